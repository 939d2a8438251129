import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from '../logger.js';
import { logDiagnostics } from './diagnostics.js';
import { createTracing, type Tracing } from './tracing.js';

/** Service name when `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) does not set one. */
export const DEFAULT_SERVICE_NAME = 'workflows-graphql';

export interface TracingOptions {
  /** Receives the spans instead of the OTLP/HTTP exporter (tests: the SDK's `InMemorySpanExporter`). */
  readonly exporter?: SpanExporter;
}

/**
 * Starts the trace SDK: a `NodeTracerProvider` with a `BatchSpanProcessor` and the OTLP/HTTP (JSON) exporter, and
 * the W3C trace-context propagator, with the SDK's diagnostics going to `logger` (src/tracing/diagnostics.ts).
 * Loaded only when called (main calls it when `config.tracing.enabled`), so a server without tracing never loads
 * the SDK.
 *
 * The SDK reads its own variables from the environment; nothing here parses them again:
 * - the exporter: `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 *   (used as it is), `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `_TIMEOUT`, `_COMPRESSION`, `_CERTIFICATE`,
 *   `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`;
 * - the provider: `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`;
 * - the batch processor: `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BSP_MAX_QUEUE_SIZE`,
 *   `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`;
 * - the resource: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` (over our default service name).
 */
export async function startTracing(logger: Logger, options: TracingOptions = {}): Promise<Tracing> {
  // First: the exporter reports malformed OTEL_* values as it is built.
  logDiagnostics(logger);
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, resources, { W3CTraceContextPropagator }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/core'),
    ]);
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': DEFAULT_SERVICE_NAME }))
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(options.exporter ?? new OTLPTraceExporter())],
  });
  // Not registered as the global provider: see Tracing (src/tracing/tracing.ts).
  return createTracing({
    tracer: provider.getTracer(DEFAULT_SERVICE_NAME),
    // Trace context only: W3C baggage from clients is not forwarded to the Workflows API.
    propagator: new W3CTraceContextPropagator(),
    shutdown: () => provider.shutdown(),
  });
}
