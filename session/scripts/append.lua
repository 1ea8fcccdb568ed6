-- append.lua: the hot path. One entry appended to a conversation whose
-- status needs no change (a visitor writing to a person, an agent writing),
-- in as few calls as it can. apply.lua does everything else.
--
-- KEYS[1] meta hash, KEYS[2] transcript list, KEYS[3] client_id -> seq hash
-- ARGV 1 channel, 2 need ",s1,s2,", 3 required agent ("" any),
--      4 client_id ("" none), 5 entry tail (JSON object without its "{"),
--      6 now ms, 7 transcript length limit, 8 key TTL ms,
--      9 "1" to mark the conversation as engaged (once)
-- Reply: {code, status, seq, entry, counted, day}
-- code: ok | dup (seq and entry are the stored ones) | nf | state | agent | full
local meta, log, cids = KEYS[1], KEYS[2], KEYS[3]
local a = ARGV
local m = redis.call('HMGET', meta, 'status', 'seq', 'agent')
local st = m[1]
if not st then return {'nf'} end
if not string.find(a[2], ',' .. st .. ',', 1, true) then return {'state', st, m[3] or ''} end
if a[3] ~= '' and m[3] ~= a[3] then return {'agent', st, m[3] or ''} end
local seq = tonumber(m[2] or '0') + 1
if seq > tonumber(a[7]) then return {'full', st} end
if a[4] ~= '' and redis.call('HSETNX', cids, a[4], seq) == 0 then
  local prev = redis.call('HGET', cids, a[4])
  return {'dup', st, prev, redis.call('LINDEX', log, tonumber(prev) - 1)}
end
local e = '{"seq":' .. seq .. ',' .. a[5]
redis.call('RPUSH', log, e)
redis.call('HSET', meta, 'seq', seq, 'last', e, 'updated', a[6])
local counted, day = 0, ''
if a[9] == '1' then
  counted = redis.call('HSETNX', meta, 'counted', a[6])
  if counted == 1 then day = redis.call('HGET', meta, 'day') or '' end
end
-- Keys live a month past the last activity; refreshing them now and then
-- is enough for that, and spares two thirds of the calls.
if seq % 32 == 1 then
  local ttl = tonumber(a[8])
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', log, ttl)
  redis.call('PEXPIRE', cids, ttl)
end
redis.call('PUBLISH', a[1], 'e' .. seq .. ' ' .. e)
return {'ok', st, seq, e, counted, day}
