import { createHash } from 'node:crypto';

/** Longest value a {@link BoundedLabel} keeps; longer ones count as `other`. */
const MAX_LABEL_LENGTH = 100;

/**
 * A label whose values come from clients (operation names): the first `max` distinct values are kept as they
 * are, every later one (and any longer than {@link MAX_LABEL_LENGTH}) is `other`, so that no client can make the
 * number of series, or the size of a scrape, grow without bound. First come, first kept: a client sending many
 * names early can push later names into `other`, never more.
 */
export class BoundedLabel {
  private readonly kept = new Set<string>();

  constructor(private readonly max: number) {}

  valueOf(value: string): string {
    if (this.kept.has(value)) return value;
    if (this.kept.size >= this.max || value.length > MAX_LABEL_LENGTH) return 'other';
    this.kept.add(value);
    return value;
  }
}

/**
 * The `credential` label of a credential key (`accountId:hash`, src/upstream/credential.ts): 12 hex characters
 * of its SHA-256, enough to tell a handful of credentials apart, while the label names neither the account
 * nor anything derived from the token alone.
 */
export function credentialLabel(credentialKey: string): string {
  return createHash('sha256').update(credentialKey).digest('hex').slice(0, 12);
}
