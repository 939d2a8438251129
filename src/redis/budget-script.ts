/**
 * The shared request budget of one credential, kept in one Redis hash and changed only by one atomic Lua script.
 * The script applies the rules of the in-process budget (src/upstream/budget.ts: own token bucket, mirrored
 * `Ratelimit` windows with what is in flight subtracted, blocked-until after a 429, the interactive reserve) to
 * state every replica shares, with Redis's clock. Replicas lease tokens in small batches (src/redis/shared-budget.ts):
 * every token a replica holds or has sent counts as in flight (`o:<replica>`) until the replica reports its answer,
 * so the mirrored window never lets more go out than upstream said was left.
 *
 * The hash's fields: `tokens` and `ts` (the bucket and when it was last refilled), `blocked` (no request before
 * this time), `win` (mirrored windows, `remaining:until,...`), `un` (requests that got no answer while a window
 * was mirrored), `bl` (what may still go while no window is mirrored and requests are in flight), `dm`
 * (interactive requests taken recently, decaying as of `ts`: what the interactive reserve follows; replicas report
 * them with their next exchange) and `o:<replica>` (tokens each replica holds or has in flight). A replica gone from
 * the registry (src/redis/registry.ts) leaves what it held as unanswered: upstream may have counted it.
 *
 * A replica that has missed heartbeats (`SUSPECT_MS`) may have crashed, or may have lost only its own connection to
 * Redis and be serving from its local share (src/redis/shared-budget.ts: the limit divided by the divisor its last
 * heartbeat recorded). The two cannot be told apart, so its share stays reserved until a window has passed since its
 * last heartbeat: the bucket holds and refills only what is not reserved, and the mirrored window allows that much
 * less. Whatever it spent meanwhile shows in upstream's `Ratelimit` answers, and what it still has in flight when it
 * rejoins is what it says it holds.
 */
import {
  MAX_MIRRORED_WINDOWS,
  RESERVE_SHARE,
  RESET_MARGIN_MS,
  SAFETY_MARGIN,
  sameWindowToleranceMs,
} from '../upstream/budget.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import { REPLICA_TTL_MS, SUSPECT_MS } from './registry.js';
import { LUA_NOW_MS, RedisScript } from './script.js';

const BUDGET = new RedisScript(`${LUA_NOW_MS}
local id = ARGV[1]
local capacity = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local replicaTtl = tonumber(ARGV[4])
local reserve = tonumber(ARGV[5])
local margin = tonumber(ARGV[6])
local resetMargin = tonumber(ARGV[7])
local maxWindows = tonumber(ARGV[8])
local tolerance = tonumber(ARGV[9])
local wantInteractive = tonumber(ARGV[10])
local wantBackground = tonumber(ARGV[11])
local settled = tonumber(ARGV[12])
local unansweredNow = tonumber(ARGV[13])
local released = tonumber(ARGV[14])
local blockFor = tonumber(ARGV[15])
local observations = ARGV[16]
local tokensCeil = tonumber(ARGV[17])
local holdsOverride = tonumber(ARGV[18])
local channel = ARGV[19]
local credential = ARGV[20]
local suspect = tonumber(ARGV[21])
local assumedDivisor = tonumber(ARGV[22])
local unansweredFirst = tonumber(ARGV[23])
local interactiveTaken = tonumber(ARGV[24])

-- The shares of replicas silent for SUSPECT_MS, until a window after their last heartbeat: each may be serving alone.
local reserved = 0
local silent = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - windowMs), '(' .. (now - suspect))
for _, replica in ipairs(silent) do
  if replica ~= id then
    local divisor = tonumber(redis.call('HGET', KEYS[3], replica)) or assumedDivisor
    reserved = reserved + math.floor(capacity / math.max(1, divisor))
  end
end
reserved = math.min(capacity, reserved)
local usable = capacity - reserved
local refillPerMs = usable / windowMs

local raw = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
local tokens = tonumber(h.tokens) or usable
local updated = tonumber(h.ts) or now
local blocked = tonumber(h.blocked) or 0
local unanswered = tonumber(h.un) or 0
local blind = tonumber(h.bl)
local demand = tonumber(h.dm) or 0
local windows = {}
if h.win then
  for r, u in string.gmatch(h.win, '(%-?[%d.]+):(%-?[%d.]+)') do
    table.insert(windows, { r = tonumber(r), u = tonumber(u) })
  end
end

if now > updated then
  tokens = tokens + (now - updated) * refillPerMs
  demand = demand * math.exp((updated - now) / windowMs)
end
demand = demand + interactiveTaken
tokens = math.min(usable, tokens)
local kept = {}
for _, w in ipairs(windows) do
  if now < w.u then table.insert(kept, w) end
end
-- Whatever unanswered requests cost, it was charged to a window that has ended.
if #kept < #windows then unanswered = 0 end
windows = kept

local holds = {}
local cutoff = now - replicaTtl
for field, value in pairs(h) do
  if string.sub(field, 1, 2) == 'o:' then
    local replica = string.sub(field, 3)
    local n = tonumber(value) or 0
    if replica ~= id then
      local seen = tonumber(redis.call('ZSCORE', KEYS[2], replica))
      if seen == nil or seen < cutoff then
        if #windows > 0 then unanswered = unanswered + n end
        redis.call('HDEL', KEYS[1], field)
        n = nil
      end
    end
    if n then holds[replica] = n end
  end
end
local own = holds[id] or 0
holds[id] = nil
if holdsOverride >= 0 then own = holdsOverride end
own = math.max(0, own - settled - released)
tokens = math.min(usable, tokens + released)

local function observe(remaining, resetMs)
  if not (resetMs > 0) then return end
  local u = now + resetMs + resetMargin
  for _, w in ipairs(windows) do
    if math.abs(w.u - u) < tolerance then
      w.r = math.min(w.r, remaining)
      w.u = math.min(w.u, u)
      return
    end
  end
  table.insert(windows, { r = remaining, u = u })
  if #windows > maxWindows then
    table.sort(windows, function(a, b) return a.u < b.u end)
    while #windows > maxWindows do table.remove(windows) end
  end
end
-- Requests that got no answer count while a window is mirrored (upstream may have counted them), as in-process:
-- those reported before this report's first Ratelimit answer came before it.
if #windows > 0 then unanswered = unanswered + unansweredFirst end
for r, ms in string.gmatch(observations, '(%-?[%d.]+):(%-?[%d.]+)') do observe(tonumber(r), tonumber(ms)) end
if #windows > 0 then unanswered = unanswered + unansweredNow - unansweredFirst end

local out = own
for _, n in pairs(holds) do out = out + n end
if #windows > 0 or out == 0 then blind = nil end
if tokensCeil >= 0 then tokens = math.min(tokens, tokensCeil) end
if blockFor >= 0 then
  blocked = math.max(blocked, now + blockFor)
  redis.call('PUBLISH', channel, credential .. ' ' .. (blocked - now))
end

local function binding()
  local strictest = nil
  for _, w in ipairs(windows) do
    if strictest == nil or w.r <= strictest.r then strictest = w end
  end
  return strictest
end
local function mirrorLeft()
  local b = binding()
  if b == nil then return blind or math.huge end
  return b.r - out - unanswered - margin - reserved
end
local function reserveBase(left)
  return math.max(reserve * left, demand)
end
local function mirrorReserve(left)
  local b = binding()
  if b == nil then return 0 end
  local share = math.min(1, math.max(0, (b.u - now) / windowMs))
  return math.min(reserveBase(left) * share, left * (1 - reserve * share))
end
local function interactiveLeft()
  if now < blocked then return 0 end
  return math.max(0, math.floor(math.min(tokens, mirrorLeft())))
end
local function backgroundLeft()
  if now < blocked then return 0 end
  local bucket = (1 - reserve) * tokens
  local left = math.max(0, mirrorLeft())
  local mirror = left - mirrorReserve(left)
  return math.max(0, math.floor(math.min(bucket, mirror) + 1e-9))
end
local function waitMs(background)
  local blockedFor = math.max(0, blocked - now)
  local needed = 1
  if background then needed = 1 / (1 - reserve) end
  -- Everything reserved: the bucket refills once the oldest reservation ends, at most a window from now.
  local wait = windowMs
  if refillPerMs > 0 then wait = math.min(windowMs, math.max(0, (needed - tokens) / refillPerMs)) end
  local b = binding()
  if b then
    local left = mirrorLeft()
    if left < 1 then
      wait = math.max(wait, b.u - now)
    elseif background and left - mirrorReserve(left) < 1 then
      local at = b.u - math.min(1, (left - 1) / reserveBase(left)) * windowMs
      wait = math.max(wait, at - now)
    end
  end
  return math.max(1, math.ceil(math.max(blockedFor, wait)))
end
local function takeOne()
  if #windows == 0 then blind = (blind or (math.floor(tokens) - out)) - 1 end
  tokens = tokens - 1
  out = out + 1
  own = own + 1
end

local grantedInteractive = 0
while grantedInteractive < wantInteractive and interactiveLeft() >= 1 do
  takeOne()
  grantedInteractive = grantedInteractive + 1
end
local grantedBackground = 0
while grantedBackground < wantBackground and backgroundLeft() >= 1 do
  takeOne()
  grantedBackground = grantedBackground + 1
end

local available = interactiveLeft()
local backgroundAvailable = backgroundLeft()
local b = binding()
local resetIn = -1
local rate = (1 - reserve) * refillPerMs * 1000
local mirror = -1
if b then
  resetIn = math.max(0, b.u - now)
  mirror = math.max(0, math.floor(mirrorLeft()))
  if resetIn > 0 then
    local left = math.max(0, mirrorLeft())
    rate = math.min(rate, math.max(0, left - mirrorReserve(left)) / resetIn * 1000)
  end
end
local interactiveWait = 0
if available < 1 then interactiveWait = waitMs(false) end
local backgroundWait = 0
if backgroundAvailable < 1 then backgroundWait = waitMs(true) end

local encoded = {}
for _, w in ipairs(windows) do table.insert(encoded, string.format('%.0f:%.0f', w.r, w.u)) end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', now, 'blocked', blocked, 'un', unanswered,
  'dm', string.format('%.6f', demand))
if #encoded > 0 then redis.call('HSET', KEYS[1], 'win', table.concat(encoded, ',')) else redis.call('HDEL', KEYS[1], 'win') end
if blind then redis.call('HSET', KEYS[1], 'bl', blind) else redis.call('HDEL', KEYS[1], 'bl') end
if own > 0 then redis.call('HSET', KEYS[1], 'o:' .. id, own) else redis.call('HDEL', KEYS[1], 'o:' .. id) end
redis.call('PEXPIRE', KEYS[1], math.max(windowMs * 2, blocked - now + windowMs) + replicaTtl)

return { grantedInteractive, grantedBackground, interactiveWait, backgroundWait, available, backgroundAvailable,
  string.format('%.6f', rate), resetIn, math.max(0, blocked - now), math.floor(tokens), mirror, reserved }
`);

/** What a replica sends with each exchange: what it wants, and what happened since the last one. */
export interface BudgetExchange {
  readonly wantInteractive: number;
  readonly wantBackground: number;
  /** Requests taken from leased tokens whose answer (or lack of one) is reported now. */
  readonly settled: number;
  /** Of those, how many got no answer... */
  readonly unanswered: number;
  /** ...and of these, how many came before the first of {@link observations}. */
  readonly unansweredFirst: number;
  /** Upstream's `Ratelimit` answers since the last report: remaining requests, and ms until the reset from now. */
  readonly observations: readonly { readonly remaining: number; readonly resetMs: number }[];
  /** Leased tokens given back unspent. */
  readonly released: number;
  /** Interactive requests taken since the last report: the demand the interactive reserve follows. */
  readonly interactiveTaken: number;
  /** A 429's wait, to block every replica for (published to them at once); null for none. */
  readonly blockForMs: number | null;
  /** Rejoining after an outage: the bucket holds at most this many (what this replica's share suggests); null: no limit. */
  readonly tokensCeil: number | null;
  /** Rejoining: what this replica holds now (requests still in flight), replacing what Redis remembers. */
  readonly holds: number | null;
}

/** An exchange that asks for nothing and reports nothing, to spread and set what one has (a rejoin: what it holds). */
export const NOTHING_TO_REPORT: BudgetExchange = {
  wantInteractive: 0,
  wantBackground: 0,
  settled: 0,
  unanswered: 0,
  unansweredFirst: 0,
  observations: [],
  released: 0,
  interactiveTaken: 0,
  blockForMs: null,
  tokensCeil: null,
  holds: null,
};

/** The shared budget after an exchange, with Redis's times turned into durations from when it answered. */
export interface SharedBudgetSnapshot {
  readonly grantedInteractive: number;
  readonly grantedBackground: number;
  readonly interactiveWaitMs: number;
  readonly backgroundWaitMs: number;
  /** Requests every replica together may still lease now (interactive), and of them background work. */
  readonly available: number;
  readonly backgroundAvailable: number;
  readonly backgroundRatePerSecond: number;
  readonly resetInMs: number | null;
  readonly blockedForMs: number;
  /** The shared bucket's whole tokens, and what the mirrored window still allows (null: none mirrored). */
  readonly tokens: number;
  readonly mirrorLeft: number | null;
  /** Requests of the limit kept for replicas that may be serving from their local share (silent, not gone a window). */
  readonly reserved: number;
}

export interface BudgetLimits {
  readonly capacity: number;
  readonly windowMs: number;
}

/**
 * Runs one exchange for `credentialKey`; rejects when Redis cannot be reached. `assumedDivisor` stands for the divisor
 * of a silent replica whose heartbeat recorded none (this replica's own fallback divisor).
 */
export async function exchangeBudget(
  connection: RedisConnection,
  keys: RedisKeys,
  replicaId: string,
  credentialKey: string,
  limits: BudgetLimits,
  exchange: BudgetExchange,
  assumedDivisor: number,
): Promise<SharedBudgetSnapshot> {
  const reply = await BUDGET.run(
    connection.client,
    [keys.budget(credentialKey), keys.replicas(), keys.replicaDivisors()],
    [
      replicaId,
      limits.capacity,
      limits.windowMs,
      REPLICA_TTL_MS,
      RESERVE_SHARE,
      SAFETY_MARGIN,
      RESET_MARGIN_MS,
      MAX_MIRRORED_WINDOWS,
      sameWindowToleranceMs(limits.windowMs),
      exchange.wantInteractive,
      exchange.wantBackground,
      exchange.settled,
      exchange.unanswered,
      exchange.released,
      exchange.blockForMs === null ? -1 : Math.max(0, Math.ceil(exchange.blockForMs)),
      exchange.observations.map((o) => `${Math.floor(o.remaining)}:${Math.round(o.resetMs)}`).join(','),
      exchange.tokensCeil === null ? -1 : Math.max(0, exchange.tokensCeil),
      exchange.holds === null ? -1 : Math.max(0, exchange.holds),
      keys.channel('budget'),
      keys.credentialId(credentialKey),
      SUSPECT_MS,
      assumedDivisor,
      exchange.unansweredFirst,
      exchange.interactiveTaken,
    ],
  );
  if (!Array.isArray(reply) || reply.length !== 12) throw new Error('the budget script answered an unexpected shape');
  const n = (i: number) => Number(reply[i]);
  return {
    grantedInteractive: n(0),
    grantedBackground: n(1),
    interactiveWaitMs: n(2),
    backgroundWaitMs: n(3),
    available: n(4),
    backgroundAvailable: n(5),
    backgroundRatePerSecond: n(6),
    resetInMs: n(7) < 0 ? null : n(7),
    blockedForMs: n(8),
    tokens: n(9),
    mirrorLeft: n(10) < 0 ? null : n(10),
    reserved: n(11),
  };
}
