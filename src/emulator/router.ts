/**
 * Route templates → handlers. Literal segments win over parameters, in declaration order
 * (docs/upstream-contract.md §2, routing).
 */

export interface Match<H> {
  readonly route: string;
  readonly handler: H;
  readonly params: Record<string, string>;
}

interface Route<H> {
  readonly method: string;
  readonly template: string;
  readonly segments: readonly string[];
  readonly handler: H;
}

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  add(method: string, template: string, handler: H): this {
    this.routes.push({ method, template, segments: template.split('/').filter(Boolean), handler });
    return this;
  }

  /** `allowed` lists the methods of the path when `match` is undefined because only the method differs. */
  find(method: string, segments: readonly string[]): { match?: Match<H>; allowed: string[] } {
    const allowed: string[] = [];
    let best: { route: Route<H>; params: Record<string, string>; literals: number } | undefined;
    for (const route of this.routes) {
      if (route.segments.length !== segments.length) continue;
      const params: Record<string, string> = {};
      let literals = 0;
      let ok = true;
      for (let i = 0; i < segments.length && ok; i++) {
        const pattern = route.segments[i]!;
        if (pattern.startsWith('{')) params[pattern.slice(1, -1)] = segments[i]!;
        else if (pattern === segments[i]) literals++;
        else ok = false;
      }
      if (!ok) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      if (!best || literals > best.literals) best = { route, params, literals };
    }
    if (!best) return { allowed: [...new Set(allowed)] };
    return {
      match: { route: `${best.route.method} ${best.route.template}`, handler: best.route.handler, params: best.params },
      allowed,
    };
  }
}
