/**
 * Measures what huge GraphQL documents do to a gateway process (issue 12, "Out of memory, from one client"):
 * starts `src/main.ts` in local mode as a child process, POSTs distinct documents of about 16 MiB, each
 * ~1M aliases of `__typename`, one after the other, and reports per document the answer (status, code), the
 * time to answer, the longest event-loop block seen from outside (the slowest `/healthz` answer, probed every
 * 20 ms), and the RSS of the gateway (`/proc/<pid>/status`: VmRSS now, VmHWM the peak).
 *
 *   npx tsx scripts/measure-hostile-documents.ts [documents=6] [--root <checkout>]
 *
 * `--root` runs another checkout's `src/main.ts` (the code before a change, for a before/after comparison).
 * Not a test: timings depend on the machine; the suite asserts the codes and limits instead.
 */
import { fileURLToPath } from 'node:url';
import { mib, post, probeEventLoop, startGateway } from './measure-gateway.js';

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const root = rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : fileURLToPath(new URL('..', import.meta.url));
const count = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--root') ?? 6);
/** The default MAX_REQUEST_BYTES: the largest body the gateway reads. */
const BODY_BYTES = 16 * 1024 * 1024 - 64;

function documentOf(seed: number): string {
  // Distinct per seed, so that no cache can answer a later one.
  const parts: string[] = ['{'];
  let bytes = 30;
  for (let i = 0; bytes < BODY_BYTES; i++) {
    const alias = `s${seed}_${i.toString(36)}:__typename `;
    parts.push(alias);
    bytes += alias.length;
  }
  parts.pop();
  parts.push('}');
  return parts.join('');
}

async function main(): Promise<void> {
  const gateway = await startGateway(root);
  const { url, pid, exited } = gateway;
  await post(url, JSON.stringify({ query: '{ __typename }' }));
  const start = gateway.memory();
  console.log(`gateway pid ${pid} at ${url.href}; RSS at start ${mib(start.rss)}; root ${root}`);

  const prober = probeEventLoop(url);

  for (let seed = 0; seed < count; seed++) {
    const query = documentOf(seed);
    const body = JSON.stringify({ query });
    prober.reset();
    const sent = performance.now();
    const answer = await Promise.race([
      post(url, body).catch((error: Error) => ({ status: 0, text: error.message })),
      exited.then((why) => ({ status: -1, text: why })),
    ]);
    const took = performance.now() - sent;
    let code = '';
    try {
      const parsed = JSON.parse(answer.text) as { errors?: { extensions?: { code?: string } }[] };
      code = parsed.errors?.[0]?.extensions?.code ?? (parsed.errors ? '(no code)' : 'data');
    } catch {
      code = answer.text.slice(0, 200);
    }
    await prober.settle();
    const now = gateway.memory();
    console.log(
      `document ${seed + 1}: ${mib(Buffer.byteLength(body))}, ${query.split(':').length - 1} aliases -> ` +
        `${answer.status} ${code} in ${took.toFixed(0)} ms; slowest /healthz ${prober.slowest().toFixed(0)} ms; ` +
        `RSS ${mib(now.rss)} (peak ${mib(now.peak)})`,
    );
    if (answer.status === -1) break;
  }
  await prober.stop();
  gateway.kill();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
