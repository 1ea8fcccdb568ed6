-- apply.lua: one atomic step on one conversation.
--
-- KEYS[1] meta hash, KEYS[2] transcript list, KEYS[3] client_id -> seq hash
--
-- ARGV (see applyOp in store.go, which builds them):
--  1 channel to publish envelopes on
--  2 need: ",s1,s2," statuses in which the step may run at all
--  3 cond: ",s1," statuses in which the conditional part runs ("" = never)
--  4 required agent id for the step ("" = any)
--  5 client_id deduplicating the first base entry ("" = none)
--  6 now, ms
--  7 new status for the conditional part ("" = keep)
--  8 state JSON published with the new status
--  9 transcript length limit
-- 10 key TTL in ms
-- 11 "1" to return the whole meta hash
-- 12 merchant channel to announce the change on ("" = no announcement)
-- 13 "1" when the change moves the merchant's queue, else "0"
-- 14 the conversation id, for the announcement
-- then: n, n "once" fields (HSETNX now whenever the step runs; the reply
--       says which were new)
-- then: n, n strings: field, value, field, value... set by the conditional part
-- then: n, n base entry tails (appended whenever the step runs)
-- then: n, n conditional entry tails
--
-- An entry tail is a JSON object without its first "{"; the script prepends
-- {"seq":N, so each entry is encoded once, in Go.
--
-- Reply: {code, status, version, applied, onceflags, meta, day, seq1, entry1, ...}
-- code: ok | dup (entry1 is the stored one) | nf | state | agent | full
local meta, log, cids = KEYS[1], KEYS[2], KEYS[3]
local a = ARGV
local i = 15
local function list()
  local n = tonumber(a[i]); i = i + 1
  local t = {}
  for k = 1, n do t[k] = a[i]; i = i + 1 end
  return t
end
local once = list()
local pairs_ = list()
local base = list()
local condEntries = list()

local function member(set, s)
  return set ~= '' and string.find(set, ',' .. s .. ',', 1, true) ~= nil
end

local st = redis.call('HGET', meta, 'status')
if not st then return {'nf'} end
local ver = redis.call('HGET', meta, 'v') or '0'
if not member(a[2], st) then
  return {'state', st, ver, '0', '', {}, redis.call('HGET', meta, 'agent') or ''}
end
if a[4] ~= '' and redis.call('HGET', meta, 'agent') ~= a[4] then
  return {'agent', st, ver, '0', '', {}, redis.call('HGET', meta, 'agent') or ''}
end
local clientID = a[5]
if clientID ~= '' then
  local prev = redis.call('HGET', cids, clientID)
  if prev then
    return {'dup', st, ver, '0', '', {}, prev, redis.call('LINDEX', log, tonumber(prev) - 1)}
  end
end

local applied = member(a[3], st)
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
local adding = #base
if applied then adding = adding + #condEntries end
if seq + adding > tonumber(a[9]) then
  return {'full', st, ver}
end

local now = a[6]
local out = {}
local pubs = {}
local last = nil
local function append(tail)
  seq = seq + 1
  local e = '{"seq":' .. seq .. ',' .. tail
  redis.call('RPUSH', log, e)
  out[#out + 1] = tostring(seq)
  out[#out + 1] = e
  pubs[#pubs + 1] = 'e' .. seq .. ' ' .. e
  last = e
end

for k = 1, #base do append(base[k]) end
if clientID ~= '' and #base > 0 then
  redis.call('HSET', cids, clientID, seq - #base + 1)
end

local flags = ''
for k = 1, #once do
  flags = flags .. redis.call('HSETNX', meta, once[k], now)
end
if applied then
  if a[7] ~= '' then
    st = a[7]
    ver = tostring(redis.call('HINCRBY', meta, 'v', 1))
    redis.call('HSET', meta, 'status', st)
    pubs[#pubs + 1] = 's' .. ver .. ' ' .. a[8]
  end
  if #pairs_ > 0 then redis.call('HSET', meta, unpack(pairs_)) end
  for k = 1, #condEntries do append(condEntries[k]) end
end

if last then
  redis.call('HSET', meta, 'seq', seq, 'last', last, 'updated', now)
else
  redis.call('HSET', meta, 'updated', now)
end
local ttl = tonumber(a[10])
if ttl > 0 then
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', cids, ttl)
end
for k = 1, #pubs do redis.call('PUBLISH', a[1], pubs[k]) end
-- Announced from here, not by the caller afterwards, so the team hears of
-- one conversation's changes in the order they happened.
if applied and a[12] ~= '' then
  local all = redis.call('HGETALL', meta)
  local shown = {}
  for k = 1, #all, 2 do
    if all[k] ~= 'rt' then
      shown[#shown + 1] = all[k]
      shown[#shown + 1] = all[k + 1]
    end
  end
  redis.call('PUBLISH', a[12], 'c' .. a[13] .. '{"id":"' .. a[14] .. '","meta":' .. cjson.encode(shown) .. '}')
end

local m = {}
if a[11] == '1' then m = redis.call('HGETALL', meta) end
local reply = {'ok', st, ver, applied and '1' or '0', flags, m, redis.call('HGET', meta, 'day') or ''}
for k = 1, #out do reply[#reply + 1] = out[k] end
return reply
