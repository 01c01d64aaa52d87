// Writes each AdmissionReview received to a directory, as the apiserver sent it: how the unit tests' fixtures
// are captured from a real control plane. Off by default; the files hold whole objects, Secrets included.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export type ReviewCapture = (body: unknown) => void;

export function reviewCapture(dir: string, log: Logger): ReviewCapture {
  let sequence = 0;
  return (body) => {
    if (typeof body !== 'string') return;
    sequence += 1;
    const uid = /"uid"\s*:\s*"([0-9a-f-]{36})"/.exec(body)?.[1] ?? 'no-uid';
    const file = join(dir, `${String(sequence).padStart(5, '0')}-${uid}.json`);
    writeFile(file, body).catch((error: unknown) => { log.warn({ err: error, file }, 'could not capture a review'); });
  };
}
