// Holds the serving policy. A reload that fails keeps the last good policy serving and reports every error.
import type { Logger } from 'pino';
import { loadConfigFile, type LoadResult } from '../config/load.js';
import { createJudge, type Judge } from '../core/decide.js';
import type { CompiledPolicy } from '../config/policy-types.js';
import type { Metrics } from '../observability/metrics.js';

export interface PolicyHolder {
  judge(): Judge;
  generation(): number;
  /** Reloads from the source; resolves with the errors when the new policy was refused. */
  reload(): Promise<LoadResult>;
}

export function policyHolder(
  initial: CompiledPolicy,
  source: string | URL,
  log: Logger,
  metrics?: Metrics,
): PolicyHolder {
  let judge = createJudge(initial);
  let generation = 1;
  metrics?.policyGeneration.set(generation);
  metrics?.policyRules.set(initial.rules.length);
  metrics?.policyLastLoadSuccess.set(1);
  return {
    judge: () => judge,
    generation: () => generation,
    async reload() {
      const result = await loadConfigFile(source);
      if (!result.ok) {
        metrics?.policyLoads.inc({ result: 'error' });
        metrics?.policyLastLoadSuccess.set(0);
        log.error({ source: String(source), errors: result.errors, generation }, 'policy reload refused; the last good policy keeps serving');
        return result;
      }
      judge = createJudge(result.policy);
      generation += 1;
      metrics?.policyLoads.inc({ result: 'ok' });
      metrics?.policyGeneration.set(generation);
      metrics?.policyRules.set(result.policy.rules.length);
      metrics?.policyLastLoadSuccess.set(1);
      log.info({ source: String(source), generation, rules: result.policy.rules.length }, 'policy reloaded');
      if (result.warnings.length > 0) log.warn({ source: String(source), warnings: result.warnings }, 'the configuration uses deprecated fields');
      return result;
    },
  };
}
