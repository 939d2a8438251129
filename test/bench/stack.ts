import { request } from 'undici';
import { spawnTs, type Child } from './children.js';
import { INSPECTOR_LINE } from './inspector.js';
import type { RequestCounts } from './counts.js';
import type { EmulatorHostOptions, WaitRequest } from './emulator-host.js';
import { productionNodeArgs } from '../helpers/production-command.js';
import { waitForHttpOk } from './wait.js';

/** A valid 32-hex account id, and the gateway's token. */
export const ACCOUNT_ID = '0bec0bec0bec0bec0bec0bec0bec0bec';
export const API_TOKEN = 'bench-gateway-token-0123456789';
/** The orchestrator's own token: the emulator budgets each token apart, so seeding never spends the gateway's budget. */
export const ORCHESTRATOR_TOKEN = 'bench-orchestrator-token-0123456789';

const START_TIMEOUT_MS = 20_000;

export interface EmulatorProcess {
  /** Base URL of the REST API, `http://127.0.0.1:PORT/client/v4`. */
  readonly url: string;
  readonly child: Child;
  /** The emulator's own request counters, read over its admin port. */
  counts(): Promise<RequestCounts>;
  resetCounts(): Promise<void>;
  /** Resolves once every instance is in one of `statuses`, watched inside the emulator (no REST calls). */
  waitForStatus(request: Omit<WaitRequest, 'accountId'>): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `emulator-host.ts` (the project's emulator plus an admin port) as its own process. */
export async function startEmulator(options: EmulatorHostOptions): Promise<EmulatorProcess> {
  const child = spawnTs('emulator', 'test/bench/emulator-host.ts', [JSON.stringify(options)], { ipc: true });
  try {
    const [, url, admin] = await child.waitForLine(/^Emulator at (\S+) admin (\S+)$/, START_TIMEOUT_MS);
    if (url === undefined || admin === undefined) throw new Error('emulator start-up line without URLs');
    return {
      url,
      child,
      async counts() {
        const response = await request(`${admin}/requests`);
        if (response.statusCode !== 200) throw new Error(`emulator admin answered ${response.statusCode}`);
        return (await response.body.json()) as RequestCounts;
      },
      async resetCounts() {
        const response = await request(`${admin}/requests/reset`, { method: 'POST' });
        await response.body.dump();
        if (response.statusCode !== 204) throw new Error(`emulator admin reset answered ${response.statusCode}`);
      },
      async waitForStatus(wait) {
        const response = await request(`${admin}/wait`, {
          method: 'POST',
          body: JSON.stringify({ ...wait, accountId: ACCOUNT_ID }),
          headersTimeout: wait.timeoutMs + 5000,
        });
        const text = await response.body.text();
        if (response.statusCode !== 204)
          throw new Error(`instances of ${wait.workflowName} did not reach ${wait.statuses.join('/')}: ${text}`);
      },
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export interface GatewayOptions {
  readonly upstreamUrl: string;
  /** @default 1000 */
  readonly pollIntervalMs?: number;
  /**
   * The gateway's own upstream budget. Scenarios that are not about the budget raise it far above what a
   * run can spend, because the production default (1200 per 5 min) would make S1 measure the throttle.
   */
  readonly rateLimit: { readonly limit: number; readonly windowS: number };
  readonly env?: Readonly<Record<string, string>>;
  /** Start node with its inspector on an ephemeral loopback port (S4 reads the heap after a GC through it). */
  readonly inspect?: boolean;
}

/** The environment of `src/main.ts` in remote mode against the bench emulator, production mode. */
export function gatewayEnv(options: GatewayOptions): Record<string, string> {
  return {
    NODE_ENV: 'production',
    CLOUDFLARE_API_TOKEN: API_TOKEN,
    CLOUDFLARE_ACCOUNT_ID: ACCOUNT_ID,
    CLOUDFLARE_BASE_URL: options.upstreamUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    POLL_INTERVAL_MS: String(options.pollIntervalMs ?? 1000),
    UPSTREAM_RATE_LIMIT: String(options.rateLimit.limit),
    UPSTREAM_RATE_WINDOW_S: String(options.rateLimit.windowS),
    ...options.env,
  };
}

export interface HttpProcess {
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  readonly child: Child;
  /** The inspector's WebSocket URL, when started with `inspect`. */
  readonly inspectorUrl?: string;
  stop(): Promise<void>;
}

/** src/main.ts's start-up line; it names AUTH_MODE since issue 11 (an older bundle's line without it also matches). */
export const GATEWAY_READY_LINE =
  /^Workflows GraphQL \(remote mode(?:, AUTH_MODE=[a-z-]+)?\) at (http:\/\/\S+)\/graphql, upstream /;

/**
 * How production runs the server (package.json's `start:prod`): node's flags, and the entry point built by
 * `npm run build` (run.ts builds it before any scenario).
 */
const PRODUCTION = productionNodeArgs();
export const GATEWAY_BUNDLE = PRODUCTION.script;
/**
 * node's flags in production: the gateway runs with them, and so does the passthrough it is measured against
 * (the same runtime configuration on both sides).
 */
export const PRODUCTION_NODE_FLAGS: readonly string[] = PRODUCTION.flags;

/** Starts the gateway (the built bundle) as its own process and waits for `/healthz` to answer 200. */
export async function startGateway(options: GatewayOptions): Promise<HttpProcess> {
  const child = spawnTs('gateway', GATEWAY_BUNDLE, [], {
    env: gatewayEnv(options),
    watchParent: true,
    nodeFlags: [...PRODUCTION_NODE_FLAGS, ...(options.inspect ? ['--inspect=127.0.0.1:0'] : [])],
  });
  try {
    // Both lines are awaited from the start: the inspector's comes first, and a line is only seen once.
    const [ready, inspector] = await Promise.all([
      child.waitForLine(GATEWAY_READY_LINE, START_TIMEOUT_MS),
      options.inspect ? child.waitForLine(INSPECTOR_LINE, START_TIMEOUT_MS) : undefined,
    ]);
    const origin = ready[1];
    if (origin === undefined) throw new Error('gateway start-up line without URL');
    await waitForHttpOk(`${origin}/healthz`, START_TIMEOUT_MS);
    return {
      origin,
      child,
      ...(inspector?.[1] === undefined ? {} : { inspectorUrl: inspector[1] }),
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Starts the S1 baseline (`passthrough.ts`) with exactly the gateway's upstream configuration. */
export async function startPassthrough(options: GatewayOptions): Promise<HttpProcess> {
  const child = spawnTs('passthrough', 'test/bench/passthrough.ts', [], {
    env: gatewayEnv(options),
    ipc: true,
    nodeFlags: PRODUCTION_NODE_FLAGS,
  });
  try {
    const [, origin] = await child.waitForLine(/^Passthrough at (http:\/\/\S+)$/, START_TIMEOUT_MS);
    if (origin === undefined) throw new Error('passthrough start-up line without URL');
    await waitForHttpOk(`${origin}/healthz`, START_TIMEOUT_MS);
    return { origin, child, stop: () => child.stop() };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
