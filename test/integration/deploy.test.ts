import { execFile } from 'node:child_process';
import { copyFile, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, spawnCommand, type SpawnedProcess } from '../helpers/process.js';
import { productionNodeArgs } from '../helpers/production-command.js';

/**
 * The deployable artifact of issue 13: `npm run build`, then an install without dev dependencies, then
 * the production command (`node <flags> dist/main.js`, package.json's start:prod). The install is made without the network, as `npm prune --omit=dev` would leave it: npm
 * itself lists the production tree (`npm ls --omit=dev --all --parseable`, from the same dev/prod flags prune
 * reads), and exactly those package folders are copied beside package.json, package-lock.json and the build.
 * Copied, not linked: node resolves a link to its real path, whose node_modules holds every dev dependency too,
 * and hard links would let npm write into this checkout's node_modules.
 */
const run = promisify(execFile);

let artifact: string;

beforeAll(async () => {
  artifact = await mkdtemp(join(tmpdir(), 'wfgql-artifact-'));
  // The real build, through npm, into the artifact (dist/ of this checkout is left to `npm run build` by hand).
  await run('npm', ['run', 'build', '--', '--outdir', join(artifact, 'dist')], { cwd: ROOT });
  await Promise.all(
    ['package.json', 'package-lock.json'].map((file) => copyFile(join(ROOT, file), join(artifact, file))),
  );
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, maxBuffer: 16 << 20 });
  // The first line is the project itself; parents come before the packages nested in them.
  const packages = stdout.split('\n').filter(Boolean).slice(1).sort();
  for (const folder of packages) {
    const nested = join(folder, 'node_modules');
    // A package's own node_modules is copied entry by entry, as npm lists them: it may hold dev-only packages.
    await cp(folder, join(artifact, relative(ROOT, folder)), { recursive: true, filter: (path) => path !== nested });
  }
}, 120_000);

// Whatever a failed test left running is killed, group and all, by test/helpers/process.ts.
afterAll(() => rm(artifact, { recursive: true, force: true }));

/** Local mode in production: allowed with LOCAL_MODE=true (issue 13: never demo data by accident). */
const LOCAL_PRODUCTION = { PORT: '0', NODE_ENV: 'production', LOCAL_MODE: 'true', npm_config_update_notifier: 'false' };

function startInArtifact(command: string, args: readonly string[]): SpawnedProcess {
  return spawnCommand(command, args, LOCAL_PRODUCTION, { cwd: artifact, detached: true });
}

/** node's arguments in the production command. */
const PRODUCTION = productionNodeArgs();
const PRODUCTION_ARGS = [...PRODUCTION.flags, PRODUCTION.script];

const WORKFLOW_QUERY = JSON.stringify({ query: '{ workflow(name: "order-fulfillment") { name } }' });

/** Resolves when every process that holds the child's stdout and stderr has exited (the pipes closed). */
function allExited(server: SpawnedProcess, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (server.child.stdout?.closed && server.child.stderr?.closed) {
      resolve();
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`a process still holds the output ${timeoutMs} ms later: the server outlived its parent`)),
      timeoutMs,
    );
    server.child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A POST whose body is half sent: the server holds the request until the rest arrives. `received` resolves once
 * the server has the request (with `Expect: 100-continue`, Node answers 100 when it parsed the head), so a signal
 * sent then finds it in flight.
 */
function halfSentRequest(
  url: string,
  body: string,
): { received: Promise<void>; sendRest(): void; answer: Promise<{ status: number; body: string }> } {
  const req = request(url, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      expect: '100-continue',
    },
  });
  const half = Math.floor(body.length / 2);
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  const received = new Promise<void>((resolve, reject) => {
    answer.catch(reject);
    req.once('continue', () => {
      req.write(body.slice(0, half));
      resolve();
    });
  });
  req.flushHeaders();
  return { received, sendRest: () => req.end(body.slice(half)), answer };
}

describe('the deployable artifact (npm run build, an install without dev dependencies)', () => {
  it('holds the production dependencies and none of the dev ones', async () => {
    const installed = new Set(await readdir(join(artifact, 'node_modules')));
    expect(installed).toContain('graphql-yoga');
    expect(installed).toContain('@graphql-yoga');
    // Otherwise the copy would prove nothing.
    for (const dev of ['typescript', 'vitest', 'eslint', 'prettier', 'cloudflare'])
      expect(installed).not.toContain(dev);
  });

  it('node dist/main.js serves GraphQL and the GraphiQL page, then exits 0 on SIGTERM', async () => {
    const server = startInArtifact(process.execPath, PRODUCTION_ARGS);
    const [, url] = await server.waitForLine(/\(local mode\) at (http:\/\/\S+\/graphql)/);
    const answer = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: WORKFLOW_QUERY,
    });
    expect(await answer.json()).toEqual({ data: { workflow: { name: 'order-fulfillment' } } });
    // Rendered on the first request, from a package loaded only then: it must be in the artifact too.
    const page = await fetch(url!, { headers: { accept: 'text/html', 'accept-encoding': 'br' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('renderYogaGraphiQL');
    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
  });
});

describe('signals', () => {
  it.each([
    [`node ${PRODUCTION_ARGS.join(' ')} (the production command)`, process.execPath, PRODUCTION_ARGS],
    [
      'npm run start:prod, the signal sent to npm alone (as docker stop sends it to PID 1)',
      'npm',
      ['run', 'start:prod'],
    ],
  ])('%s: SIGTERM lets the request in flight finish, then everything exits 0', async (_, command, args) => {
    const server = startInArtifact(command, args);
    const [, url] = await server.waitForLine(/\(local mode\) at (http:\/\/\S+\/graphql)/);

    // The signal comes while a request is in flight: its body half sent, the server waiting for the rest.
    const pending = halfSentRequest(url!, WORKFLOW_QUERY);
    await pending.received;

    // child.kill signals that one pid: npm's, not its process group.
    server.kill('SIGTERM');
    await server.waitForLine(/SIGTERM received, shutting down/, { stream: 'stderr' });
    pending.sendRest();
    const answer = await pending.answer;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ data: { workflow: { name: 'order-fulfillment' } } });
    expect(await server.exited()).toEqual({ code: 0, signal: null });
    // npm's exit alone proves little: before start:prod exec'd node, npm exited at once (143) and node, its
    // grandchild, kept serving. Every holder of the output pipes has exited only when no server is left.
    await allExited(server);
  });
});
