// Blast-radius benchmark: impact answered from the cluster picture for a namespace of 10 k and 100 k objects and
// for a deep ownerReference chain; memory per cached object; the cost of syncing a list into the picture. Every
// figure is a ratio to a baseline measured in the same run (these machines are shared and noisy):
//   impact      vs. iterating a plain Map of the same number of entries (the least any count must do)
//   sync        vs. JSON.parse of the same PartialObjectMetadataList text (what any client must do)
//   memory      bytes per cached object vs. bytes per entry of a Map<uid, name> of the same size
// Usage: npm run bench:impact   (node --expose-gc is set by the npm script)
import { computeImpact } from '../dist/core/impact.js';
import { resourceKey, toEntry } from '../dist/core/picture-view/entry.js';
import { PictureIndex } from '../dist/core/picture-view/picture-index.js';

const { gc } = globalThis;
if (typeof gc !== 'function') throw new Error('run with node --expose-gc (npm run bench:impact)');

const uid = (i) => `${(i >>> 0).toString(16).padStart(8, '0')}-1c5e-40f0-9c54-${String(i).padStart(12, '0')}`;

/** PartialObjectMetadata as the apiserver lists it: workloads with ReplicaSets and pods, config, secrets. */
function namespaceObjects(ns, count) {
  const items = [];
  let i = 0;
  const meta = (resource, name, owners) => ({
    resource,
    object: {
      kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1',
      metadata: {
        name, namespace: ns, uid: uid(items.length + 1), resourceVersion: String(1000 + items.length),
        creationTimestamp: '2026-11-21T10:00:00Z', labels: { app: name.split('-')[0], 'app.kubernetes.io/part-of': 'shop' },
        ...(owners === undefined ? {} : { ownerReferences: owners.map((o) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: o, controller: true, blockOwnerDeletion: true })) }),
      },
    },
  });
  while (items.length < count) {
    const deployment = meta('deployments.apps', `app${i}`);
    items.push(deployment);
    const rs = meta('replicasets.apps', `app${i}-5d9`, [deployment.object.metadata.uid]);
    items.push(rs);
    for (let p = 0; p < 6 && items.length < count; p++) items.push(meta('pods', `app${i}-5d9-${p}`, [rs.object.metadata.uid]));
    for (let c = 0; c < 2 && items.length < count; c++) items.push(meta(c === 0 ? 'configmaps' : 'secrets', `app${i}-${c}`));
    i += 1;
  }
  return items.slice(0, count);
}

function nsDelete(ns) {
  return {
    uid: 'r', operation: 'DELETE', kind: { group: '', version: 'v1', kind: 'Namespace' },
    resource: { group: '', version: 'v1', resource: 'namespaces' }, name: ns, namespace: ns,
    userInfo: { username: 'system:serviceaccount:agents:coder' }, options: { propagationPolicy: 'Background' },
    oldObject: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: `ns-${ns}` } },
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median wall time of one call of fn, in ms, over `runs` samples of `reps` calls each, after warm-up. */
function time(fn, runs = 9, reps = 1) {
  for (let i = 0; i < 2 * reps; i++) fn();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6 / reps);
  }
  return median(samples);
}

function heapAfter(build) {
  gc(); gc();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  gc(); gc();
  const bytes = process.memoryUsage().heapUsed - before;
  return { kept, bytes };
}

const rows = [];
for (const size of [10_000, 100_000]) {
  const ns = `shop-${size}`;
  const objects = namespaceObjects(ns, size);
  // Sync: the list text as the apiserver sends it (grouped per resource), parsed and indexed.
  const byResource = new Map();
  for (const { resource, object } of objects) byResource.set(resource, [...(byResource.get(resource) ?? []), object]);
  const lists = [...byResource].map(([resource, items]) => ({ resource, text: JSON.stringify({ kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: '1' }, items }) }));
  const parseOnly = time(() => { for (const { text } of lists) JSON.parse(text); }, 5);
  let index;
  const sync = time(() => {
    index = new PictureIndex();
    for (const { resource, text } of lists) {
      const entries = JSON.parse(text).items.map((item) => toEntry(resource, item)).filter(Boolean);
      index.replaceResource(resource, entries);
    }
  }, 5);
  // Memory: the index alone (the parsed lists are garbage by then) vs. a Map<uid, name>.
  const { kept: heldIndex, bytes: indexBytes } = heapAfter(() => {
    const built = new PictureIndex();
    for (const { resource, text } of lists) built.replaceResource(resource, JSON.parse(text).items.map((item) => toEntry(resource, item)));
    return built;
  });
  const { kept: heldMap, bytes: mapBytes } = heapAfter(() => {
    const map = new Map();
    for (const { text } of lists) for (const item of JSON.parse(text).items) map.set(item.metadata.uid, item.metadata.name);
    return map;
  });
  // Impact: the namespace delete, vs. one pass over a Map of the same size.
  const request = nsDelete(ns);
  let impact;
  const impactMs = time(() => { impact = computeImpact(request, heldIndex); }, 9, 100);
  const mapPass = time(() => { let n = 0; for (const value of heldMap.values()) if (value !== '') n += 1; return n; });
  // One Deployment of the namespace, with its ReplicaSet and pods: the common case.
  const deploymentDelete = { ...request, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, name: 'app0', oldObject: { metadata: { name: 'app0', namespace: ns, uid: uid(1) } } };
  const one = time(() => computeImpact(deploymentDelete, heldIndex), 9, 1000);
  // Baseline: looking the same 8 objects up in a Map.
  const eight = Array.from({ length: 8 }, (_, k) => uid(k + 1));
  const lookup = time(() => { let n = 0; for (const key of eight) if (heldMap.get(key) !== undefined) n += 1; return n; }, 9, 1000);
  rows.push({ case: `namespace of ${size.toLocaleString('en')} objects (vs one Map pass)`, ms: impactMs, baselineMs: mapPass, total: impact.total });
  rows.push({ case: `  one Deployment in it (vs 8 Map lookups)`, ms: one, baselineMs: lookup, total: computeImpact(deploymentDelete, heldIndex).total });
  rows.push({ case: `  sync ${size.toLocaleString('en')} objects (vs JSON.parse of the lists)`, ms: sync, baselineMs: parseOnly, total: heldIndex.size });
  rows.push({ case: `  memory: bytes/object, index vs Map<uid,name>`, ms: indexBytes / size, baselineMs: mapBytes / size, total: heldIndex.size, unit: 'B' });
}

// A deep chain: each object owned by the previous one, 10 k deep.
const chain = new PictureIndex();
const depth = 10_000;
for (let i = 0; i < depth; i++) {
  chain.upsert(toEntry(resourceKey('example.com', 'links'), { metadata: { name: `l${i}`, namespace: 'deep', uid: uid(i), ...(i === 0 ? {} : { ownerReferences: [{ uid: uid(i - 1) }] }) } }));
}
const chainMap = new Map(Array.from({ length: depth }, (_, i) => [uid(i), `l${i}`]));
const rootDelete = { ...nsDelete('deep'), resource: { group: 'example.com', version: 'v1', resource: 'links' }, name: 'l0', oldObject: { metadata: { name: 'l0', namespace: 'deep', uid: uid(0) } } };
const chainMs = time(() => computeImpact(rootDelete, chain));
const chainPass = time(() => { let n = 0; for (const value of chainMap.values()) if (value !== '') n += 1; return n; });
rows.push({ case: `ownerReference chain ${depth.toLocaleString('en')} deep (vs one Map pass)`, ms: chainMs, baselineMs: chainPass, total: computeImpact(rootDelete, chain).total });

const ratio = (r) => (r < 1 ? r.toPrecision(2) : r.toFixed(1));
console.log(`node ${process.version}; medians; ratio = case / baseline measured in this run`);
console.log('case                                                   case        baseline      ratio   objects');
for (const row of rows) {
  const unit = row.unit ?? 'ms';
  const fmt = (v) => (unit === 'B' ? `${v.toFixed(0)} B` : v < 0.1 ? `${(v * 1000).toFixed(2)} µs` : `${v.toFixed(2)} ms`);
  console.log(`${row.case.padEnd(52)}${fmt(row.ms).padStart(11)}  ${fmt(row.baselineMs).padStart(11)}  ${ratio(row.ms / row.baselineMs).padStart(8)}×  ${String(row.total).padStart(8)}`);
}
