import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/** One span as an OTLP/HTTP JSON export carries it, with its attributes and its resource's flattened. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** `''` for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** OTLP's numbering: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code?: number; readonly message?: string };
  readonly resource: Readonly<Record<string, unknown>>;
}

export interface OtlpReceiver {
  /** The receiver's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it (the exporter appends `/v1/traces`). */
  readonly url: string;
  /** Every request received, whatever its path. */
  readonly requests: readonly { readonly path: string; readonly contentType: string }[];
  readonly spans: readonly ReceivedSpan[];
  stop(): Promise<void>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttributes = { key: string; value: OtlpValue }[] | undefined;
interface ExportTraceServiceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: OtlpAttributes;
        status?: { code?: number; message?: string };
      }[];
    }[];
  }[];
}

const receivers = new Set<OtlpReceiver>();
afterAll(async () => {
  await Promise.all([...receivers].map((r) => r.stop()));
});

/**
 * A fake OpenTelemetry collector on loopback: accepts OTLP/HTTP JSON `ExportTraceServiceRequest`s (what
 * @opentelemetry/exporter-trace-otlp-http sends) on `/v1/traces` and keeps their spans.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const requests: { path: string; contentType: string }[] = [];
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url ?? '', contentType });
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !contentType.startsWith('application/json')) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ExportTraceServiceRequest;
      for (const resourceSpans of body.resourceSpans ?? []) {
        const resource = flatten(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? '',
              name: span.name,
              kind: span.kind,
              attributes: flatten(span.attributes),
              status: span.status ?? {},
              resource,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        receivers.delete(receiver);
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
  receivers.add(receiver);
  return receiver;
}

function flatten(attributes: OtlpAttributes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue === undefined ? undefined : Number(value.intValue)) ??
      value.doubleValue ??
      value.boolValue;
  }
  return out;
}
