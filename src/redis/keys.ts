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
  /** A hash: what each listed replica divides the budget by while it cannot reach Redis (src/redis/registry.ts). */
  replicaDivisors(): string;
  /** One replica's presence, expiring unless renewed. */
  replica(replicaId: string): string;
  /** A pub/sub channel of this deployment (`budget` carries shared blocks after a 429, `live` the poll loops' news). */
  channel(kind: string): string;
  /**
   * Names one poll loop (a credential and a workflow) in keys and messages: 32 hex characters of a SHA-256 of
   * both, so neither the credential nor the workflow name is readable from it.
   */
  loopId(credentialKey: string, workflowName: string): string;
  /** The lease of a loop's leader (src/redis/live-coordination.ts): `<replica id> <fencing token>`. */
  lease(loopId: string): string;
  /** The counter a loop's fencing tokens come from. */
  fence(loopId: string): string;
  /** A hash: what each replica's subscribers watch in a loop, with the time it expires unless renewed. */
  interest(loopId: string): string;
  /** A hash: the latest state the leader published of each watched instance of a loop. */
  states(loopId: string): string;
  /** A counter of a loop's published messages: a follower that missed one reads the kept states again. */
  version(loopId: string): string;
  /** One credential's shared finished-instance details, by a hash of workflow and instance id. */
  finished(credentialKey: string, workflowName: string, instanceId: string): string;
  /**
   * A sorted set: one credential's shared finished-instance keys by expiry (src/redis/finished-scripts.ts), read by a
   * replica that may have missed their announcements.
   */
  finishedIndex(credentialKey: string): string;
}

export function createRedisKeys(prefix: string): RedisKeys {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
  const credentialId = sha;
  return {
    prefix,
    credentialId,
    budget: (credentialKey) => `${prefix}budget:${credentialId(credentialKey)}`,
    replicas: () => `${prefix}replicas`,
    replicaDivisors: () => `${prefix}replicas:divisors`,
    replica: (replicaId) => `${prefix}replica:${replicaId}`,
    channel: (kind) => `${prefix}events:${kind}`,
    loopId: (credentialKey, workflowName) => sha(`${credentialKey}\n${workflowName}`),
    // `v1`: the format of the values and messages of src/redis/live-coordination.ts; another one gets other names.
    lease: (loopId) => `${prefix}live:v1:${loopId}:lease`,
    fence: (loopId) => `${prefix}live:v1:${loopId}:fence`,
    interest: (loopId) => `${prefix}live:v1:${loopId}:interest`,
    states: (loopId) => `${prefix}live:v1:${loopId}:states`,
    version: (loopId) => `${prefix}live:v1:${loopId}:version`,
    finished: (credentialKey, workflowName, instanceId) =>
      `${prefix}finished:${credentialId(credentialKey)}:${sha(`${workflowName}\n${instanceId}`)}`,
    finishedIndex: (credentialKey) => `${prefix}finished-index:v1:${credentialId(credentialKey)}`,
  };
}
