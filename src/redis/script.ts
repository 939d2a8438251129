/**
 * A Lua script run atomically by Redis: EVALSHA (only the hash travels), and EVAL when Redis does not know the
 * script yet (first use, or after a restart or SCRIPT FLUSH), which also loads it for the next EVALSHA.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type ScriptReply = string | number | null | ScriptReply[];

export class RedisScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<ScriptReply> {
    try {
      return (await client.evalsha(this.sha, keys.length, ...keys, ...args)) as ScriptReply;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await client.eval(this.lua, keys.length, ...keys, ...args)) as ScriptReply;
    }
  }
}

/** Redis's clock in milliseconds, for every script: replicas' clocks may disagree, Redis's is one for all of them. */
export const LUA_NOW_MS = `
pcall(function() redis.replicate_commands() end)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;
