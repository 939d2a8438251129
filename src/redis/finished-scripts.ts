/**
 * The Lua scripts of the shared finished-instance details (src/redis/shared-finished.ts). Storing details also
 * announces their keys, in the same round trip, so that the other replicas ask Redis only for keys it holds; the
 * announced keys are also kept in a per-credential sorted set by expiry, for a replica that was not listening.
 */
import { LUA_NOW_MS, RedisScript } from './script.js';

/**
 * Stores the details of several instances of one credential (each with NX when it is simple: only where none are
 * kept) and, for each key that then holds some, records it in the index by its expiry and announces it with its
 * remaining TTL; then drops the index's expired members.
 *
 * KEYS: index, channel, then one details key per instance. ARGV: replica id, credential id, then for each instance,
 * in the order of its key: details JSON, TTL ms, '1' for NX, instance id. Returns how many keys hold details.
 */
export const STORE_MANY = new RedisScript(`${LUA_NOW_MS}
local held = 0
local longest = 0
for i = 3, #KEYS do
  local a = (i - 3) * 4 + 3
  if ARGV[a + 2] == '1' then
    redis.call('SET', KEYS[i], ARGV[a], 'PX', tonumber(ARGV[a + 1]), 'NX')
  else
    redis.call('SET', KEYS[i], ARGV[a], 'PX', tonumber(ARGV[a + 1]))
  end
  local left = redis.call('PTTL', KEYS[i])
  if left > 0 then
    held = held + 1
    if left > longest then longest = left end
    redis.call('ZADD', KEYS[1], now + left, KEYS[i] .. ' ' .. ARGV[a + 3])
    redis.call('PUBLISH', KEYS[2], cjson.encode({r = ARGV[1], c = ARGV[2], k = KEYS[i], n = ARGV[a + 3], t = left}))
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if longest > 0 and redis.call('PTTL', KEYS[1]) < longest then redis.call('PEXPIRE', KEYS[1], longest) end
return held
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
