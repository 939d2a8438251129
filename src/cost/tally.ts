/** One field path and the upstream requests attributed to it. */
export interface CostDriver {
  /** Response names from the root, joined by `.` (such as `workflows.nodes.instances.nodes.steps.output`). */
  readonly path: string;
  readonly cost: number;
}

/**
 * Requests counted so far. Requests for a thing the estimator can name (a workflow or instance whose name
 * and id are in the operation) are counted once per key, as the per-operation loaders make them once;
 * everything else adds up.
 */
export class Tally {
  private added = 0;
  private readonly byPath = new Map<string, number>();
  private readonly byKey = new Map<string, CostDriver>();

  /** Adds `cost` requests for `path`; with a `key`, only the largest cost charged under that key counts. */
  charge(path: string, cost: number, key?: string): void {
    if (cost <= 0) return;
    if (key === undefined) {
      this.added += cost;
      this.byPath.set(path, (this.byPath.get(path) ?? 0) + cost);
      return;
    }
    const known = this.byKey.get(key);
    if (!known || known.cost < cost) this.byKey.set(key, { path: known?.path ?? path, cost });
  }

  get total(): number {
    let total = this.added;
    for (const { cost } of this.byKey.values()) total += cost;
    return total;
  }

  /** Adds everything another tally counted (keyed requests still count once). */
  absorb(other: Tally): void {
    for (const [path, cost] of other.byPath) this.charge(path, cost);
    for (const [key, { path, cost }] of other.byKey) this.charge(path, cost, key);
  }

  /** Requests per field path, costliest first. */
  drivers(): CostDriver[] {
    const paths = new Map(this.byPath);
    for (const { path, cost } of this.byKey.values()) paths.set(path, (paths.get(path) ?? 0) + cost);
    return [...paths]
      .map(([path, cost]) => ({ path, cost }))
      .sort((a, b) => b.cost - a.cost || a.path.localeCompare(b.path));
  }
}
