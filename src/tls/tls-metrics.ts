// Certificate expiry and rotation as metrics: an alert on expiry is the backstop should rotation ever stall.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { TlsStepKind } from './rotation-plan.js';

export interface TlsMetrics {
  expiry: Gauge<'certificate'>;
  steps: Counter<'step'>;
  errors: Counter;
}

export function tlsMetrics(registry: Registry): TlsMetrics {
  const registers = [registry];
  const steps = new Counter<'step'>({
    name: 'countersign_tls_rotation_steps_total',
    help: 'Self-managed TLS steps this replica wrote (created, ca-added, ca-promoted, ca-retired, bundle-repaired, serving-issued).',
    labelNames: ['step'],
    registers,
  });
  const kinds: TlsStepKind[] = ['created', 'bundle-repaired', 'ca-added', 'ca-promoted', 'ca-retired', 'serving-issued'];
  for (const step of kinds) steps.inc({ step }, 0);
  return {
    expiry: new Gauge({
      name: 'countersign_tls_certificate_expiry_timestamp_seconds',
      help: 'When the self-managed serving certificate and signing CA expire (Unix seconds).',
      labelNames: ['certificate'],
      registers,
    }),
    steps,
    errors: new Counter({ name: 'countersign_tls_sync_errors_total', help: 'Self-managed TLS passes that failed (the current certificate keeps serving).', registers }),
  };
}
