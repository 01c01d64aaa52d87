// The picture's API server calls over node:https, authenticated from the KubeConfig. client-node's informers are
// not used: they stop silently on errors and cannot ask for PartialObjectMetadata, which keeps each cached object
// to its metadata instead of its whole body.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { DISCOVERY_ACCEPT, statusError, type ListPage, type ListRequest, type PictureTransport, type WatchRequest } from './transport.js';

// A list or discovery answer that stops arriving for this long is abandoned (and retried); watches are guarded by
// the picture's own watchdog instead, since they are silent by design between events.
const REQUEST_IDLE_TIMEOUT_MS = 60_000;
// Enough of an error body to read the Status message; an error page larger than this is cut.
const MAX_ERROR_BODY = 64 * 1024;

interface GetRequest {
  path: string;
  accept: string;
  signal: AbortSignal;
  idleTimeoutMs?: number;
}

/** Splits a newline-delimited JSON stream into lines, whatever the chunk boundaries. */
export class LineSplitter {
  private pending = '';

  push(chunk: string): string[] {
    this.pending += chunk;
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    return lines.filter((line) => line.trim() !== '');
  }

  /** What is left after the stream ended: a last line without its newline. */
  flush(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest.trim() === '' ? [] : [rest];
  }
}

async function readBody(response: IncomingMessage, limit = Number.POSITIVE_INFINITY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    chunks.push(buffer);
    size += buffer.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function failure(response: IncomingMessage, path: string): Promise<Error> {
  const body = await readBody(response, MAX_ERROR_BODY).catch(() => '');
  let status: object = {};
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null) status = parsed;
  } catch {
    // Not a Status: an error page from a proxy in front of the API server; its text is the message.
  }
  return statusError({ message: body.trim().slice(0, 200) || response.statusMessage, ...status, code: response.statusCode }, `GET ${path}`);
}

function send(url: URL, options: https.RequestOptions, idleTimeoutMs: number | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'http:' ? http : https).request(url, options, resolve);
    request.on('error', reject);
    if (idleTimeoutMs !== undefined) {
      request.setTimeout(idleTimeoutMs, () => request.destroy(new Error(`no answer from the API server for ${idleTimeoutMs} ms`)));
    }
    request.end();
  });
}

/** A GET that resolves with a 200 response, or rejects with the API server's Status as an ApiStatusError. */
async function get(kc: KubeConfig, request: GetRequest): Promise<IncomingMessage> {
  const server = kc.getCurrentCluster()?.server ?? '';
  if (server === '') throw new Error('the kubeconfig names no API server');
  // Appended, not resolved: a server URL may carry a path prefix (a proxy's) that URL resolution would drop.
  const url = new URL(server.replace(/\/+$/, '') + request.path);
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: request.accept }, signal: request.signal };
  // Per request: a token file or exec credential may have been renewed since the last one.
  await kc.applyToHTTPSOptions(options);
  const response = await send(url, options, request.idleTimeoutMs);
  if (response.statusCode !== 200) throw await failure(response, request.path);
  return response;
}

async function getJson(kc: KubeConfig, request: GetRequest): Promise<unknown> {
  const response = await get(kc, { ...request, idleTimeoutMs: REQUEST_IDLE_TIMEOUT_MS });
  return JSON.parse(await readBody(response)) as unknown;
}

function query(path: string, parameters: Record<string, string>): string {
  return `${path}?${new URLSearchParams(parameters).toString()}`;
}

async function list(kc: KubeConfig, request: ListRequest): Promise<ListPage> {
  const parameters: Record<string, string> = { limit: String(request.limit) };
  if (request.continueToken !== '') parameters.continue = request.continueToken;
  const path = query(request.path, parameters);
  const body = (await getJson(kc, { path, accept: request.accept, signal: request.signal })) as {
    items?: unknown;
    metadata?: { resourceVersion?: unknown; continue?: unknown };
  } | null;
  // An empty PartialObjectMetadataList comes with `"items": null`.
  const items = body?.items ?? [];
  if (!Array.isArray(items) || typeof body?.metadata !== 'object') throw new Error(`GET ${path}: the answer is not a list`);
  const resourceVersion = body.metadata.resourceVersion;
  const continueToken = body.metadata.continue;
  return {
    items: items as unknown[],
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
    continueToken: typeof continueToken === 'string' ? continueToken : '',
  };
}

async function watch(kc: KubeConfig, request: WatchRequest): Promise<void> {
  const parameters = { watch: '1', allowWatchBookmarks: 'true', resourceVersion: request.resourceVersion, timeoutSeconds: String(request.timeoutSeconds) };
  const path = query(request.path, parameters);
  const response = await get(kc, { path, accept: request.accept, signal: request.signal });
  request.onConnect();
  response.setEncoding('utf8');
  const lines = new LineSplitter();
  const emit = (line: string): void => {
    request.onEvent(JSON.parse(line) as { type: string; object: unknown });
  };
  // Leaving the loop by a throw (a bad line, or onEvent refusing an event) destroys the response and its socket.
  for await (const chunk of response) for (const line of lines.push(chunk as string)) emit(line);
  for (const line of lines.flush()) emit(line);
}

export function httpsTransport(kc: KubeConfig): PictureTransport {
  return {
    discover: (signal) => Promise.all(['/api', '/apis'].map((path) => getJson(kc, { path, accept: DISCOVERY_ACCEPT, signal }))),
    list: (request) => list(kc, request),
    watch: (request) => watch(kc, request),
  };
}
