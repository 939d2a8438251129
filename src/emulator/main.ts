/** `npm run emulator`: serves the emulator alone and prints its base URL as one line on stdout. */
import { ConfigError, loadEmulatorConfig, type EmulatorConfig } from '../config.js';
import { createEmulator } from './server.js';

async function main(): Promise<void> {
  let config: EmulatorConfig;
  try {
    config = loadEmulatorConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const emulator = await createEmulator({
    port: config.port,
    host: config.host,
    ...(config.apiToken === undefined ? {} : { apiToken: config.apiToken }),
    ...(config.tokens === undefined ? {} : { tokens: config.tokens }),
    timeScale: config.timeScale,
    ...(config.rateLimit === undefined ? {} : { rateLimit: { limit: config.rateLimit, windowS: config.rateWindowS } }),
    ...(config.latencyMs > 0 ? { latencyMs: config.latencyMs } : {}),
  });
  process.stdout.write(`${emulator.url}\n`);

  let signalled = false;
  const shutdown = () => {
    if (signalled) return;
    signalled = true;
    emulator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`emulator: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`emulator: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
