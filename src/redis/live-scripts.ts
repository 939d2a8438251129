/**
 * The Lua scripts of poll leadership (src/redis/live-coordination.ts). A lease is `<replica id> <fencing token>`
 * with a TTL; tokens come from a per-loop counter that starts at Redis's clock in milliseconds, so they keep
 * growing even after Redis restarts empty and a follower that remembers an older leader's token still accepts
 * the new one's.
 */
import { LUA_NOW_MS, RedisScript } from './script.js';

/**
 * One replica's heartbeat for one loop, in one round trip: records (or, with an empty interest, removes) what its
 * subscribers watch, announces a change of it when asked, renews its lease or takes a free one (only a replica
 * with subscribers of its own does), and, while it leads, returns what the other replicas watch.
 *
 * The leader's heartbeat also keeps its loop's kept states alive, however long nothing changes.
 *
 * The leader's heartbeat also drops the kept states of instances no replica watches any more (interest entries
 * that are not JSON count as watching nothing).
 *
 * KEYS: lease, fence, interest, channel, states, version. ARGV: replica id, TTL ms, interest JSON or '', '1' to
 * publish ARGV[5], states TTL ms.
 * Returns `{0, the leader's token or 0, the loop's version}` for a follower (a follower that has not seen that
 * version reads the kept states again), `{token, interest JSON of each other replica…}` for the leader.
 */
export const TICK = new RedisScript(`${LUA_NOW_MS}
local ttl = tonumber(ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], (now + ttl) .. '|' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ttl * 2)
else
  redis.call('HDEL', KEYS[3], ARGV[1])
end
if ARGV[4] == '1' then redis.call('PUBLISH', KEYS[4], ARGV[5]) end
local token = 0
local current = 0
local lease = redis.call('GET', KEYS[1])
if lease then
  local holder, held = string.match(lease, '^(%S+) (%d+)$')
  current = tonumber(held) or 0
  if holder == ARGV[1] then
    token = tonumber(held)
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
elseif ARGV[3] ~= '' then
  if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], string.format('%d', now)) end
  token = redis.call('INCR', KEYS[2])
  -- Gone a day after the last election: a counter started again from the clock still exceeds every older token.
  redis.call('PEXPIRE', KEYS[2], 86400000)
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. string.format('%d', token), 'PX', ttl)
end
if token == 0 then return {0, current, tonumber(redis.call('GET', KEYS[6]) or '0') or 0} end
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[6]))
redis.call('PEXPIRE', KEYS[6], tonumber(ARGV[6]))
local reply = {token}
local watched = {}
local entries = redis.call('HGETALL', KEYS[3])
for i = 1, #entries, 2 do
  local value = entries[i + 1]
  local sep = string.find(value, '|', 1, true)
  if not sep or (tonumber(string.sub(value, 1, sep - 1)) or 0) < now then
    redis.call('HDEL', KEYS[3], entries[i])
  else
    local ok, wire = pcall(cjson.decode, string.sub(value, sep + 1))
    if ok and type(wire) == 'table' and type(wire.i) == 'table' then
      for _, pair in ipairs(wire.i) do
        if type(pair) == 'table' and type(pair[1]) == 'string' then watched[pair[1]] = true end
      end
    end
    if entries[i] ~= ARGV[1] then reply[#reply + 1] = string.sub(value, sep + 1) end
  end
end
local kept = redis.call('HKEYS', KEYS[5])
for _, id in ipairs(kept) do
  if not watched[id] then redis.call('HDEL', KEYS[5], id) end
end
return reply
`);

/**
 * Publishes a leader's message only while it still holds the lease with that token (fencing), and keeps the
 * state it carries as the instance's latest. Each message counts up the loop's version, which prefixes the
 * message and the kept state (`<version>|<JSON>`): a follower that sees a version skipped missed a message.
 *
 * KEYS: lease, states, channel, version. ARGV: lease value, message, instance id or '', stored state, states TTL ms.
 * Returns the new version when published, 0 when the lease is no longer this holder's.
 */
export const PUBLISH_FENCED = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local version = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[5]))
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[3], version .. '|' .. ARGV[4])
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]))
end
redis.call('PUBLISH', KEYS[3], version .. '|' .. ARGV[2])
return version
`);

/**
 * A replica leaves a loop: its interest goes, and its lease too when it holds it. The others hear of it: that
 * the lease is free (one of them takes over at once, not when the lease would have expired), or else that the
 * interest changed (the leader stops polling for it).
 *
 * When no replica watches anything of the loop any more, its kept states go too.
 *
 * KEYS: lease, interest, channel, states, version. ARGV: replica id, message when it held the lease, message otherwise.
 */
export const RELEASE = new RedisScript(`
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[4], KEYS[5]) end
local lease = redis.call('GET', KEYS[1])
if lease and string.match(lease, '^(%S+) ') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[3], ARGV[2])
else
  redis.call('PUBLISH', KEYS[3], ARGV[3])
end
return 1
`);
