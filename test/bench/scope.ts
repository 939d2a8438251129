interface Stoppable {
  stop(): Promise<void>;
}

/** Collects what a scenario starts and stops it all, newest first, however the scenario ends. */
export class Scope {
  private readonly items: Stoppable[] = [];

  /** Registers `item` for {@link Scope.close} and returns it. */
  use<T extends Stoppable>(item: T): T {
    this.items.push(item);
    return item;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const item of this.items.splice(0).reverse()) {
      try {
        await item.stop();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'some processes did not stop cleanly');
  }
}

/** Runs `body` with a fresh {@link Scope} that is closed afterwards, whether `body` succeeds or throws. */
export async function scoped<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await body(scope);
  } finally {
    await scope.close();
  }
}
