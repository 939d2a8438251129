import Cloudflare from 'cloudflare';
import { afterAll } from 'vitest';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';

export const ACCOUNT = '0123456789abcdef0123456789abcdef';
export const TOKEN = 'test-token';

const started = new Set<Emulator>();
afterAll(async () => {
  await Promise.all([...started].map((e) => e.stop()));
});

/** An emulator on port 0 that stops itself after the file's tests. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const emulator = await createEmulator({ clock: 'manual', ...options });
  started.add(emulator);
  return emulator;
}

export function sdk(emulator: Emulator, options: { apiToken?: string; maxRetries?: number } = {}): Cloudflare {
  return new Cloudflare({
    apiToken: options.apiToken ?? TOKEN,
    baseURL: emulator.url,
    maxRetries: options.maxRetries ?? 0,
  });
}

/** Raw HTTP against the emulator: `path` is relative to `/accounts/{ACCOUNT}/workflows`. */
export async function rest(
  emulator: Emulator,
  method: string,
  path: string,
  init: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{
  status: number;
  headers: Headers;
  body: {
    success: boolean;
    errors: { code: number; message: string }[];
    result: unknown;
    result_info?: Record<string, unknown>;
  };
}> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...init.headers };
  let body: string | undefined;
  if (init.rawBody !== undefined) body = init.rawBody;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(
      `${method} ${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    );
  }
  return { status: response.status, headers: response.headers, body: parsed as never };
}
