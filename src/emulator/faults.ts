/** Opt-in fault injection for tests and benchmarks, selectable per route. */

export interface FaultSpec {
  /** Route template (`GET /accounts/{account_id}/workflows`), or a RegExp tested against the template and `METHOD /path`. Omitted: every route. */
  route?: string | RegExp;
  /** Extra latency in ms, fixed or uniformly random in [min, max]. */
  latencyMs?: number | { min: number; max: number };
  /** Share (0..1) of requests answered 5xx without running the handler. */
  errorRate?: number;
  /** Share (0..1) of requests answered 429 without running the handler. */
  rateLimitRate?: number;
  /** Share (0..1) of requests whose connection is reset before the handler runs. */
  reset?: number;
  /** Share (0..1) of answers cut off mid-body (the handler has run: its effects are kept). */
  truncate?: number;
  /** Share (0..1) of answers replaced by a body that is not JSON (the handler has run). */
  malformed?: number;
}

export type FaultDecision = {
  latencyMs: number;
  before?: 'error' | 'rateLimit' | 'reset';
  after?: 'truncate' | 'malformed';
};

export interface FaultInjector {
  /** Adds a fault rule; rules for the same string route (or the same RegExp source) replace each other. */
  set(spec: FaultSpec): void;
  clear(): void;
  readonly rules: readonly FaultSpec[];
}

export interface FaultEngine extends FaultInjector {
  decide(route: string, methodAndPath: string): FaultDecision | undefined;
}

const ruleKey = (route: FaultSpec['route']): string =>
  route === undefined ? '*' : typeof route === 'string' ? `s:${route}` : `r:${route.source}/${route.flags}`;

function checkShare(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value <= 1))
    throw new RangeError(`fault ${name} must be between 0 and 1 (got ${value})`);
}

export function createFaults(random: () => number = Math.random): FaultEngine {
  let rules: FaultSpec[] = [];
  const hit = (share: number | undefined) => share !== undefined && share > 0 && random() < share;
  return {
    get rules() {
      return rules;
    },
    set(spec) {
      for (const name of ['errorRate', 'rateLimitRate', 'reset', 'truncate', 'malformed'] as const)
        checkShare(name, spec[name]);
      const key = ruleKey(spec.route);
      rules = [...rules.filter((r) => ruleKey(r.route) !== key), spec];
    },
    clear() {
      rules = [];
    },
    decide(route, methodAndPath) {
      if (rules.length === 0) return undefined;
      const decision: FaultDecision = { latencyMs: 0 };
      let matched = false;
      for (const rule of rules) {
        const applies =
          rule.route === undefined ||
          (typeof rule.route === 'string'
            ? rule.route === route
            : rule.route.test(route) || rule.route.test(methodAndPath));
        if (!applies) continue;
        matched = true;
        const l = rule.latencyMs;
        if (l !== undefined) decision.latencyMs += typeof l === 'number' ? l : l.min + random() * (l.max - l.min);
        decision.before ??= hit(rule.reset)
          ? 'reset'
          : hit(rule.errorRate)
            ? 'error'
            : hit(rule.rateLimitRate)
              ? 'rateLimit'
              : undefined;
        decision.after ??= hit(rule.truncate) ? 'truncate' : hit(rule.malformed) ? 'malformed' : undefined;
      }
      return matched ? decision : undefined;
    },
  };
}
