import { SpanKind, SpanStatusCode, defaultTextMapSetter, trace, type Attributes } from '@opentelemetry/api';
import type { BudgetState } from '../upstream/budget.js';
import type { UpstreamObserver } from '../upstream/observer.js';
import type { Tracing } from './tracing.js';

export interface UpstreamTracingOptions {
  /** The budget of a credential key (`Upstream.budget`): its `available` requests go on each span. */
  readonly budget?: (credentialKey: string) => BudgetState;
}

/**
 * Makes every upstream call of an operation a child span of the operation's span, and sends its `traceparent`
 * (and `tracestate`) upstream with every attempt. Span name and `url.template` are the route template
 * (`GET /workflows/{name}/instances/{id}`): never the concrete path, its names and ids, query parameters or the token.
 *
 * Calls without an operation are not traced, and background calls never are: the poll loops of subscriptions
 * call upstream every few seconds for as long as anyone watches, and would add a one-span trace per call (and a
 * poll loop started by a subscription inherits that operation's context for its whole life). Their numbers are
 * in the upstream metrics.
 */
export function traceUpstreamCalls(tracing: Tracing, options: UpstreamTracingOptions = {}): UpstreamObserver {
  const { tracer, propagator } = tracing;
  return {
    callStarted(call) {
      const parent = tracing.active();
      if (call.priority === 'background' || trace.getSpan(parent) === undefined) return undefined;
      const path = call.route.slice(call.route.indexOf(' ') + 1);
      const attributes: Attributes = {
        'http.request.method': call.method,
        'url.template': path,
        'wfgql.upstream.priority': call.priority,
      };
      if (options.budget) attributes['wfgql.upstream.budget_available'] = options.budget(call.credentialKey).available;
      const span = tracer.startSpan(call.route, { kind: SpanKind.CLIENT, attributes }, parent);
      const headers: Record<string, string> = {};
      propagator.inject(trace.setSpan(parent, span), headers, defaultTextMapSetter);
      return {
        headers,
        attemptEnded(attempt) {
          if (attempt.status !== 'network') span.setAttribute('http.response.status_code', attempt.status);
          // Only attempts that did not end the call are events: the last one is the span's own status.
          if (attempt.status === 'network' || attempt.status >= 400)
            span.addEvent('upstream.attempt', {
              'wfgql.upstream.attempt': attempt.index,
              'wfgql.upstream.attempt.status': String(attempt.status),
              'wfgql.upstream.attempt.duration_ms': attempt.durationMs,
            });
        },
        ended(end) {
          span.setAttributes({
            'wfgql.upstream.retries': end.retries,
            'wfgql.upstream.waited_ms': end.waitedMs,
          });
          if (end.refusedByBudget) span.setAttribute('wfgql.upstream.refused_by_budget', true);
          if (end.error) {
            span.setAttribute('error.type', end.error.code);
            span.setStatus({ code: SpanStatusCode.ERROR, message: end.error.code });
          }
          span.end();
        },
      };
    },
    deduplicated(route) {
      // No request, so no span: the operation's span notes that it read what another caller had asked for.
      trace.getSpan(tracing.active())?.addEvent('upstream.deduplicated', { 'wfgql.upstream.route': route });
    },
  };
}
