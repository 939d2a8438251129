/**
 * The Lua scripts of the shared finished-instance details (src/redis/shared-finished.ts). Storing details also
 * announces their key, in the same round trip, so that the other replicas ask Redis only for keys it holds; the
 * announced keys are also kept in a per-credential sorted set by expiry, for a replica that was not listening.
 */
import { LUA_NOW_MS, RedisScript } from './script.js';

/**
 * Stores details (with NX, only where none are kept) and, when the key then holds some, records it in the index by
 * its expiry, drops the index's expired members, and announces it with its remaining TTL.
 *
 * KEYS: details, index, channel. ARGV: details JSON, TTL ms, '1' for NX, replica id, credential id, instance id.
 * Returns the key's remaining TTL in ms, 0 when it holds nothing.
 */
export const STORE = new RedisScript(`${LUA_NOW_MS}
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]), 'NX')
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
end
local left = redis.call('PTTL', KEYS[1])
if left <= 0 then return 0 end
redis.call('ZADD', KEYS[2], now + left, KEYS[1] .. ' ' .. ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < left then redis.call('PEXPIRE', KEYS[2], left) end
redis.call('PUBLISH', KEYS[3], cjson.encode({r = ARGV[4], c = ARGV[5], k = KEYS[1], n = ARGV[6], t = left}))
return left
`);

/**
 * The live members of a credential's index, those expiring last first, at most ARGV[1] of them.
 *
 * KEYS: index. ARGV: most members. Returns `{member, remaining TTL ms, ...}`; a member is `<details key> <instance id>`.
 */
export const SNAPSHOT = new RedisScript(`${LUA_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local entries = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local reply = {}
for i = 1, #entries, 2 do
  reply[#reply + 1] = entries[i]
  reply[#reply + 1] = math.floor(tonumber(entries[i + 1]) - now)
end
return reply
`);
