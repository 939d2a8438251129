import { createApp, type App } from './app.js';
import { createAuthenticator } from './auth/index.js';
import type { Authenticator } from './auth/principal.js';
import { ConfigError, isLoopbackHost, loadConfig, loggedSecrets, type Config } from './config.js';
import { createLogger, type AppLogger } from './logger.js';
import { startTracing } from './tracing/sdk.js';
import { loadDocumentResolver, type DocumentResolver } from './trusted-documents/resolve.js';
import { exitOnUnhandledFailures } from './logging/unhandled-failures.js';

/** Set once main has made it: from then on a failure to start is told through it, structured and scrubbed. */
let mainLogger: AppLogger | undefined;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, loggedSecrets(config), { format: config.logFormat });
  mainLogger = logger;
  exitOnUnhandledFailures(logger);
  let authenticator: Authenticator;
  let documents: DocumentResolver | undefined;
  try {
    authenticator = await createAuthenticator(config);
    // Before the emulator starts: a bad manifest stops the server before it serves anything.
    documents = loadDocumentResolver(config.trustedDocuments);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  if (config.auth.explicitNone && !isLoopbackHost(config.host)) {
    logger.warn(
      { authMode: 'none', host: config.host },
      `AUTH_MODE=none on ${config.host}: every client that reaches this port acts with the server's access. ` +
        'Run it like this only behind a proxy that authenticates every request.',
    );
  }

  // Key rotation without a restart: SIGHUP re-reads API_KEYS_FILE (a bad file keeps the keys in use). Registered
  // before anything starts: until then SIGHUP's default action would kill the process, and a supervisor that
  // rotates keys as soon as the start-up line appears could send it in that window.
  // Reloads run one after another, so that the file read last is the one in use.
  let reloading: Promise<void> = Promise.resolve();
  // Set once the app exists: a SIGHUP before that only reloads the keys.
  const started: { app?: App } = {};
  process.on('SIGHUP', () => {
    const reload = authenticator.reload;
    if (!reload) {
      logger.info(
        { signal: 'SIGHUP', authMode: config.auth.mode },
        `SIGHUP: AUTH_MODE=${config.auth.mode} has nothing to reload`,
      );
      return;
    }
    reloading = reloading.then(() =>
      reload.call(authenticator).then(
        // Open WebSocket connections of keys that are gone close with 4401.
        async () => {
          await started.app?.reauthenticate();
          logger.info(
            { signal: 'SIGHUP', authMode: config.auth.mode },
            `SIGHUP: ${config.auth.mode} credentials reloaded`,
          );
        },
        (error: unknown) =>
          logger.error(
            { signal: 'SIGHUP', authMode: config.auth.mode, error: (error as Error).message },
            'SIGHUP: reload failed, the previous credentials stay in use',
          ),
      ),
    );
  });

  // Local mode: the embedded emulator is the upstream, reached over loopback through the real client.
  // Imported only in local mode: remote deployments never load the emulator's code.
  const emulator =
    config.mode === 'local'
      ? await (
          await import('./emulator/server.js')
        ).createEmulator({
          port: 0,
          host: '127.0.0.1',
          timeScale: config.emulator.timeScale,
          seedDemoData: true,
        })
      : undefined;
  const effective: Config = emulator ? { ...config, upstream: { ...config.upstream, baseUrl: emulator.url } } : config;

  // Loaded only when tracing is on: a server without it never loads the OpenTelemetry SDK.
  const tracing = config.tracing.enabled ? await startTracing(logger) : undefined;
  // Loaded only with REDIS_URL: a single process never loads the Redis client.
  const redisUrl = config.redis.url;
  const scaleOut =
    redisUrl === undefined
      ? undefined
      : await (
          await import('./redis/scale-out.js')
        ).createScaleOut({
          redis: { ...config.redis, url: redisUrl },
          upstream: effective.upstream,
          pollIntervalMs: effective.pollIntervalMs,
          logger,
        });
  const app = createApp(effective, {
    logger,
    authenticator,
    ...(tracing ? { tracing } : {}),
    ...(scaleOut ? { scaleOut } : {}),
    ...(documents ? { documents } : {}),
  });
  started.app = app;
  const url = await app.start();
  process.stdout.write(
    `Workflows GraphQL (${effective.mode} mode) at ${url}, upstream ${effective.upstream.baseUrl}, AUTH_MODE=${config.auth.mode}\n`,
  );
  // The same facts for log pipelines, which read stderr only.
  logger.info(
    { url, mode: effective.mode, upstream: effective.upstream.baseUrl, authMode: config.auth.mode, pid: process.pid },
    'server started',
  );

  if (app.metricsUrl) {
    process.stdout.write(`Metrics at ${app.metricsUrl}\n`);
    // METRICS_HOST defaults to loopback whatever HOST is (it used to follow HOST): say so where it surprises.
    if (isLoopbackHost(config.metrics.host) && !isLoopbackHost(effective.host))
      logger.warn(
        { metricsUrl: app.metricsUrl, host: effective.host },
        'metrics are served on loopback only (METRICS_HOST); set METRICS_HOST to scrape them from another machine',
      );
  }

  // A token or account the upstream refuses is fixed only by configuration: exit at once, naming the variable.
  // An unreachable upstream is not: the check keeps retrying while /readyz answers 503 (src/health/upstream-check.ts).
  void app.startupCheck.then(async (outcome) => {
    if (outcome.status !== 'failed') return;
    // Through the logger: with LOG_FORMAT=json, stderr stays one JSON object per line for log pipelines.
    logger.error({ problem: outcome.problem }, `Start-up check failed: ${outcome.problem}`);
    await app.stop();
    process.exit(1);
  });

  let signalled = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, `${signal} received, shutting down`);
    const since = performance.now();
    void (async () => {
      await app.stop();
      await emulator?.stop();
      logger.info({ signal, durationMs: Math.round(performance.now() - since) }, 'server stopped');
      process.exit(0);
    })().catch((error: unknown) => {
      logger.error({ signal, err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  try {
    if (mainLogger) mainLogger.fatal({ err: error }, 'failed to start');
    // Before the logger exists (reading the configuration failed unexpectedly): plain text.
    else process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  } finally {
    process.exit(1);
  }
});
