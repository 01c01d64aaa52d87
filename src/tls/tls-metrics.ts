// Certificate expiry and rotation as metrics: an alert on expiry is the backstop should rotation ever stall.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TlsStepKind } from './rotation-plan.js';

export interface TlsMetrics {
  expiry: Gauge<'certificate'>;
  steps: Counter<'step'>;
  errors: Counter;
  lastSuccess: Gauge;
  bundlePublished: Gauge;
}

export function tlsMetrics(registry: Registry): TlsMetrics {
  const registers = [registry];
  const steps = new Counter<'step'>({
    name: 'countersign_tls_rotation_steps_total',
    help: 'Self-managed TLS steps this replica wrote (created, ca-added, ca-promoted, ca-retired, bundle-repaired, clock-repaired, serving-issued).',
    labelNames: ['step'],
    registers,
  });
  const kinds: TlsStepKind[] = ['created', 'bundle-repaired', 'clock-repaired', 'ca-added', 'ca-promoted', 'ca-retired', 'serving-issued'];
  for (const step of kinds) steps.inc({ step }, 0);
  return {
    expiry: new Gauge({
      name: 'countersign_tls_certificate_expiry_timestamp_seconds',
      help: 'When the certificate this replica serves (serving) and, self-managed, the signing CA (ca) expire, in Unix seconds.',
      labelNames: ['certificate'],
      registers,
    }),
    steps,
    errors: new Counter({ name: 'countersign_tls_sync_errors_total', help: 'Self-managed TLS passes that failed (the current certificate keeps serving).', registers }),
    lastSuccess: new Gauge({ name: 'countersign_tls_last_sync_success_timestamp_seconds', help: 'When this replica last completed a self-managed TLS pass, in Unix seconds.', registers }),
    bundlePublished: new Gauge({ name: 'countersign_tls_bundle_published', help: '1 when the webhook configuration holds the stored CA bundle, as of this replica\'s last pass.', registers }),
  };
}
