// Retries the API server's "come back shortly" answers (429 with Retry-After, e.g. "storage is (re)initializing"
// right after a CRD is created; 503), as kubectl does. Anything else fails at once.
import { statusCode } from './api-error.js';

const TRANSIENT = new Set([429, 503]);

export async function retryTransient<T>(call: () => Promise<T>, attempts = 4, delayMs = 250): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error: unknown) {
      if (attempt >= attempts || !TRANSIENT.has(statusCode(error) ?? 0)) throw error;
      await new Promise((done) => setTimeout(done, delayMs * attempt));
    }
  }
}

/** The call's result, or a rejection naming `what` once `ms` pass (the call itself is not cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => { reject(new Error(`${what} took longer than ${ms} ms`)); }, ms); });
  return Promise.race([promise, timeout]).finally(() => { clearTimeout(timer); });
}
