// An agent's requests sent straight to the apiserver (one keep-alive HTTPS agent, as a client library would), while
// something happens to Countersign's pods: every answer is classified, so "none lost, none wrongly allowed" is a count.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';


/** Countersign's refusal, as the apiserver words it. */
export const REFUSED_BY_COUNTERSIGN = 'admission webhook "agents.countersign.dev" denied the request';
/** The refusal the production delete must get: pending a human's approval (not, say, "not ready to judge"). */
export const PENDING_APPROVAL = `${REFUSED_BY_COUNTERSIGN}: Countersign requires a human approval for this request (rule production-delete)`;

export interface Tally {
  sent: number;
  /** The agent's ordinary change (a server-side dry-run create in development) was allowed, as it should be. */
  allowed: number;
  /** The agent's production delete was refused by Countersign, as it should be. */
  refused: number;
  /** The production delete went through: the one outcome that must never happen. */
  wronglyAllowed: number;
  /** Anything else: the webhook not answering, a timeout, an unexpected status. */
  failed: number;
  failures: string[];
}

interface Answer {
  status: number;
  body: string;
}

export interface Cluster {
  server: string;
  ca: string;
}

export function clusterOf(dir: string): Cluster {
  const info = JSON.parse(readFileSync(join(dir, 'cluster', 'control-plane.json'), 'utf8')) as { server: string; caFile: string };
  return { server: info.server, ca: readFileSync(info.caFile, 'utf8') };
}

interface Caller {
  cluster: Cluster;
  agent: Agent;
  token: string;
}

function send(caller: Caller, method: string, path: string, body?: string): Promise<Answer> {
  const { cluster, agent, token } = caller;
  const url = new URL(path, cluster.server);
  return new Promise((done) => {
    const req = request(url, {
      method, agent, ca: cluster.ca, timeout: 15_000,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => { done({ status: res.statusCode ?? 0, body: text }); });
    });
    req.on('timeout', () => { req.destroy(new Error('timed out after 15 s')); });
    req.on('error', (error) => { done({ status: 0, body: error.message }); });
    req.end(body);
  });
}

/** The apiserver's Status message, or '' when the body is not a Status. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : '';
  } catch {
    return '';
  }
}

function classify(tally: Tally, kind: 'create' | 'delete', answer: Answer): void {
  tally.sent += 1;
  if (kind === 'create' && answer.status === 201) {
    tally.allowed += 1;
  } else if (kind === 'delete' && answer.status === 403 && statusMessage(answer.body).startsWith(PENDING_APPROVAL)) {
    tally.refused += 1;
  } else if (kind === 'delete' && (answer.status === 200 || answer.status === 202 || answer.status === 404)) {
    // 404: an earlier delete went through, so this one found nothing: counted as wrongly allowed as well.
    tally.wronglyAllowed += 1;
  } else {
    tally.failed += 1;
    if (tally.failures.length < 10) tally.failures.push(`${kind} ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
}

/**
 * Sends, until stopped, pairs of an agent's requests: a dry-run ConfigMap create in `devNamespace` (allowed) and the
 * delete of ConfigMap `victim` in `prodNamespace` (refused). Returns a stop function resolving to the tally.
 */
export function agentTraffic(cluster: Cluster, token: string, target: { devNamespace: string; prodNamespace: string; victim: string }): () => Promise<Tally> {
  const tally: Tally = { sent: 0, allowed: 0, refused: 0, wronglyAllowed: 0, failed: 0, failures: [] };
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  const caller: Caller = { cluster, agent, token };
  let running = true;
  const loop = async (): Promise<void> => {
    for (let i = 0; running; i += 1) {
      const configMap = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `traffic-${i}` }, data: { i: String(i) } });
      classify(tally, 'create', await send(caller, 'POST', `/api/v1/namespaces/${target.devNamespace}/configmaps?dryRun=All`, configMap));
      classify(tally, 'delete', await send(caller, 'DELETE', `/api/v1/namespaces/${target.prodNamespace}/configmaps/${target.victim}`));
    }
  };
  const loops = [loop(), loop()];
  return async () => {
    running = false;
    await Promise.all(loops);
    agent.destroy();
    return tally;
  };
}
