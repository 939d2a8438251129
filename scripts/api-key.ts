// `npm run api-key -- --id dash --scopes workflows:read,workflows:write [--workflows 'order-*,billing']`:
// prints a new random API key once, and the entry to add to API_KEYS_FILE (src/auth/api-keys.ts). The key is
// stored nowhere; the file only ever holds its SHA-256.
import { parseArgs } from 'node:util';
import { createApiKey } from '../src/auth/api-keys.js';
import { SCOPES, type Scope } from '../src/auth/principal.js';
import { ConfigError } from '../src/config.js';

const USAGE = `Usage: npm run api-key -- --id <id> --scopes <scope>[,<scope>] [--workflows <name or glob>[,...]]
  --id         names the key in logs (letters, digits, ._:@-)
  --scopes     ${SCOPES.join(', ')}
  --workflows  workflow names or * globs the key may touch (default: every workflow)`;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

let values: { id?: string; scopes?: string; workflows?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      id: { type: 'string' },
      scopes: { type: 'string' },
      workflows: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.id === undefined) fail('--id is required');
const scopes = list(values.scopes);
if (scopes === undefined || scopes.length === 0) fail('--scopes is required');
const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
if (unknown.length > 0) fail(`--scopes: unknown scope ${unknown.map((s) => `"${s}"`).join(', ')}`);
const workflows = list(values.workflows);
if (workflows !== undefined && workflows.length === 0) fail('--workflows must name at least one workflow or glob');

try {
  const { key, entry } = createApiKey({ id: values.id, scopes: scopes as Scope[], workflows });
  process.stdout.write(
    `New API key "${entry.id}" (shown only this once; the server keeps only its SHA-256):\n\n${key}\n\n` +
      `Add this entry to the JSON array in API_KEYS_FILE, then send SIGHUP to the server (or restart it):\n\n` +
      `${JSON.stringify(entry)}\n`,
  );
} catch (error) {
  if (error instanceof ConfigError) fail(error.problems.map((p) => p.replace(/^the new entry: /, '')).join('\n'));
  throw error;
}
