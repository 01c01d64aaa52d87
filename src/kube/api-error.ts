// client-node's errors carry the apiserver's Status as a JSON string inside a multi-line text: people need the Status.
/** The apiserver's refusal text (a webhook's message included), not a stack trace. */
export function apiErrorMessage(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

/** The HTTP status of a failed Kubernetes API call (client-node's ApiException carries it as `code`). */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The call's result, or undefined when the object does not exist (404); any other failure is thrown. */
export async function orUndefinedOn404<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error: unknown) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
}
