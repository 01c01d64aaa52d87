// The three API server calls the live picture makes, behind a port so the watch logic can be tested against a
// scripted server. The real one is https-transport.ts.

/** Aggregated discovery (one request per root lists every group's resources), with plain JSON as the fallback. */
export const DISCOVERY_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';

export interface ListRequest {
  /** Collection path across all namespaces, without query: `/api/v1/pods`. */
  path: string;
  accept: string;
  limit: number;
  /** '' for the first page. */
  continueToken: string;
  signal: AbortSignal;
}

export interface ListPage {
  items: readonly unknown[];
  resourceVersion: string;
  /** '' on the last page. */
  continueToken: string;
}

export interface WatchEvent {
  type: string;
  object: unknown;
}

export interface WatchRequest {
  path: string;
  accept: string;
  resourceVersion: string;
  timeoutSeconds: number;
  signal: AbortSignal;
  /** The API server accepted the watch (HTTP 200). */
  onConnect(): void;
  /** May throw: the transport then ends the watch and rejects with that error. */
  onEvent(event: WatchEvent): void;
}

export interface PictureTransport {
  /** The aggregated discovery documents (APIGroupDiscoveryList) of `/api` and `/apis`. */
  discover(signal: AbortSignal): Promise<readonly unknown[]>;
  list(request: ListRequest): Promise<ListPage>;
  /** Resolves when the API server ends the stream; rejects on an error status, a broken stream or an abort. */
  watch(request: WatchRequest): Promise<void>;
}

/** An API server answer other than success: an HTTP status, or a watch ERROR event carrying a Status. */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiStatusError';
  }
}

/** 410 Gone: the resourceVersion (or continue token) is older than etcd keeps; only a fresh list helps. */
export function isGone(error: unknown): boolean {
  return error instanceof ApiStatusError && error.code === 410;
}

/** The Status object an API server sends as an error body or in a watch ERROR event, as an error. */
export function statusError(status: unknown, context: string): ApiStatusError {
  const { code, message, reason } = (status ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
  const number = typeof code === 'number' ? code : 0;
  const why = typeof message === 'string' && message !== '' ? message : typeof reason === 'string' ? reason : 'no message';
  // A plain-text error body often starts with its code already ("404 page not found").
  const prefix = number === 0 || why.startsWith(String(number)) ? '' : `${number} `;
  return new ApiStatusError(number, `${context}: ${prefix}${why}`);
}
