// The runtime guards that keep a policy from stalling the webhook (shared/reference/cel.md).
import v8 from 'node:v8';
import vm from 'node:vm';

let regexGuardOn = false;

/**
 * CEL's `matches` runs on JS RegExp, which backtracks exponentially on patterns like ^(a+)+$. V8 can switch a
 * regex to its linear-time engine once backtracking gets excessive; the flag only affects regexes compiled after
 * it is set, so it is set when this module loads, before any policy is compiled.
 */
export function enableRegexBacktrackGuard(): void {
  if (regexGuardOn) return;
  v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
  regexGuardOn = true;
}
enableRegexBacktrackGuard();

export class DeadlineExceeded extends Error {
  constructor(readonly timeoutMs: number) {
    super(`policy evaluation exceeded its timeout of ${timeoutMs} ms`);
    this.name = 'DeadlineExceeded';
  }
}

// One context and one compiled script are reused; the watchdog thread that enforces `timeout` is what costs
// (~150 µs a call), so callers only come here for expressions that can loop (comprehensions).
const sandbox = vm.createContext({ job: undefined as (() => unknown) | undefined });
const trampoline = new vm.Script('job()');

/** Runs `job` synchronously and interrupts it if it runs longer than `timeoutMs`. */
export function runWithDeadline<T>(job: () => T, timeoutMs: number): T {
  if (timeoutMs <= 0) throw new DeadlineExceeded(0);
  const box = sandbox as { job: (() => unknown) | undefined };
  box.job = job;
  try {
    return trampoline.runInContext(sandbox, { timeout: Math.max(1, Math.floor(timeoutMs)) }) as T;
  } catch (error: unknown) {
    if ((error as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new DeadlineExceeded(timeoutMs);
    throw error;
  } finally {
    box.job = undefined;
  }
}
