// CI's stand-in for `docker build` (no container engine on our machines): builds the production bundle with the
// very script the Dockerfile runs, from the same files the Dockerfile copies, then starts it the way the image
// does - Node 24, a read-only bundle, `serve` - and asks it for a decision over HTTPS. Usage: npm run test:bundle
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// What the Dockerfile's build stage COPYs, in its order.
const COPIED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'policy', 'docker/build-bundle.sh'];
// Every development dependency named in package.json (scoped ones included) must be absent from the bundle.
const DEV_ONLY = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies ?? {});

function fail(message) {
  console.error(`check-bundle: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

function listing(dir) {
  const out = [];
  const walk = (at) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else out.push(`${relative(dir, path)} ${stat.size} ${stat.mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

function post(port, ca, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode, text }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const work = mkdtempSync(join(tmpdir(), 'countersign-bundle-'));
let server;
try {
  const src = join(work, 'src');
  for (const entry of COPIED) cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
  const app = join(work, 'app');
  const started = Date.now();
  // The image's Node (24) first on PATH, as in the build stage.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  execFileSync('sh', [join(src, 'docker', 'build-bundle.sh'), src, app], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const modules = readdirSync(join(app, 'node_modules'));
  // A development dependency may also be a production one's dependency (@types/node of client-node): only what
  // the production tree does not reach is a leak.
  const production = new Set(execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: app, env, encoding: 'utf8' }).trim().split('\n'));
  const leaked = DEV_ONLY.filter((name) => existsSync(join(app, 'node_modules', name, 'package.json')) && !production.has(join(app, 'node_modules', name)));
  if (leaked.length > 0) fail(`development dependencies in the bundle: ${leaked.join(', ')}`);
  for (const needed of ['dist/cli/main.js', 'policy/default.yaml', 'node_modules/fastify', 'node_modules/@kubernetes/client-node']) {
    if (!existsSync(join(app, needed))) fail(`the bundle lacks ${needed}`);
  }
  console.log(`check-bundle: built in ${Math.round((Date.now() - started) / 1000)} s; ${modules.length} top-level packages, no development dependency outside the production tree`);

  const tls = join(work, 'tls');
  mkdirSync(tls);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(tls, 'tls.key'), '-out', join(tls, 'tls.crt'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const before = listing(app);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  // As the image runs it: node, the bundle's entry point, `serve`; the working directory is the read-only bundle.
  server = spawn(process.execPath, [join(app, 'dist', 'cli', 'main.js'), 'serve', '--tls-cert', join(tls, 'tls.crt'), '--tls-key', join(tls, 'tls.key'),
    '--address', '127.0.0.1', '--port', String(port), '--cluster', join(ROOT, 'test', 'fixtures', 'held-out', 'cluster.json')],
  { cwd: app, env: { PATH: env.PATH, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const ca = readFileSync(join(tls, 'tls.crt'));
  let health;
  for (let i = 0; i < 100 && health?.status !== 200; i++) {
    await sleep(100);
    health = await post(port, ca, '/healthz').catch(() => undefined);
  }
  if (health?.status !== 200) fail('the bundle did not become healthy');
  const review = readFileSync(join(ROOT, 'test', 'fixtures', 'held-out', 'reviews', 'agent-delete-production-namespace.json'), 'utf8');
  const answer = await post(port, ca, '/validate', review);
  const response = JSON.parse(answer.text).response;
  if (response?.allowed !== false || response.auditAnnotations?.rule !== 'production-namespace-delete') fail(`unexpected answer: ${answer.text}`);
  if (listing(app) !== before) fail('the running bundle wrote into its own files');
  console.log('check-bundle: serve started from the read-only bundle and refused an agent deleting a production namespace (production-namespace-delete)');
} finally {
  server?.kill('SIGTERM');
  execFileSync('chmod', ['-R', 'u+w', work]);
  rmSync(work, { recursive: true, force: true });
}
