/**
 * Every Redis key and channel name of a deployment, made in one place: `REDIS_KEY_PREFIX`, then the kind, then
 * what it is about. A credential is named by a hash of its key (which is itself an account id and a hash of the
 * token), so no key, channel or value ever holds a token, nor an account id in clear.
 */
import { createHash } from 'node:crypto';

export interface RedisKeys {
  readonly prefix: string;
  /** Names a credential (its `Credential.key`) in keys, channels and messages: 32 hex characters of a SHA-256. */
  credentialId(credentialKey: string): string;
  /** The hash holding one credential's shared request budget (src/redis/budget-script.ts). */
  budget(credentialKey: string): string;
  /** The sorted set of replicas by last heartbeat (src/redis/registry.ts). */
  replicas(): string;
  /** One replica's presence, expiring unless renewed. */
  replica(replicaId: string): string;
  /** A pub/sub channel of this deployment (`budget` carries shared blocks after a 429). */
  channel(kind: string): string;
}

export function createRedisKeys(prefix: string): RedisKeys {
  const credentialId = (credentialKey: string) => createHash('sha256').update(credentialKey).digest('hex').slice(0, 32);
  return {
    prefix,
    credentialId,
    budget: (credentialKey) => `${prefix}budget:${credentialId(credentialKey)}`,
    replicas: () => `${prefix}replicas`,
    replica: (replicaId) => `${prefix}replica:${replicaId}`,
    channel: (kind) => `${prefix}events:${kind}`,
  };
}
