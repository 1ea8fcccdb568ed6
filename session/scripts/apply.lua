-- apply.lua: one atomic step on one conversation. Its keys, arguments and
-- reply are declared by applyArgs and applyReply in session/store.go; the
-- lines above this comment (k_*, a_*, reply) are generated from them.
--
-- The step runs only in the statuses of a_need; its conditional part (the
-- fields, the after entries, the new status) only in those of a_cond.
-- Base entries are appended whenever the step runs, before the new status
-- is published; after entries follow it. An entry is a JSON object without
-- its first "{" (the script prepends {"seq":N,), so each entry is encoded
-- once, in Go.
--
-- code: ok | dup (entries[1] is the stored one) | nf | state | agent | full
local st = redis.call('HGET', k_meta, 'status')
local created = false
if not st and #a_create > 0 then
  -- A conversation is stored at its first step, not at the hello: a hello
  -- alone leaves nothing behind.
  redis.call('HSET', k_meta, unpack(a_create))
  st = redis.call('HGET', k_meta, 'status')
  created = true
end
if not st then return reply{code = 'nf'} end
local ver = redis.call('HGET', k_meta, 'v') or '0'
local function member(set, s)
  return set ~= '' and string.find(set, ',' .. s .. ',', 1, true) ~= nil
end
if not member(a_need, st) then
  return reply{code = 'state', status = st, version = ver, holder = redis.call('HGET', k_meta, 'agent')}
end
if a_agent ~= '' and redis.call('HGET', k_meta, 'agent') ~= a_agent then
  return reply{code = 'agent', status = st, version = ver, holder = redis.call('HGET', k_meta, 'agent')}
end
if a_client_id ~= '' then
  local prev = redis.call('HGET', k_cids, a_client_id)
  if prev then
    return reply{code = 'dup', status = st, version = ver, first_seq = prev,
      entries = {redis.call('LINDEX', k_log, tonumber(prev) - 1)}}
  end
end

local applied = member(a_cond, st)
local seq = tonumber(redis.call('HGET', k_meta, 'seq') or '0')
local adding = #a_base
if applied then adding = adding + #a_after end
if seq + adding > tonumber(a_max_seq) then
  return reply{code = 'full', status = st, version = ver}
end

local out = {}
local pubs = {}
local last = nil
local first = seq + 1
local function append(tail)
  seq = seq + 1
  local e = '{"seq":' .. seq .. ',' .. tail
  redis.call('RPUSH', k_log, e)
  out[#out + 1] = e
  pubs[#pubs + 1] = 'e' .. seq .. ' ' .. e
  last = e
end

for k = 1, #a_base do append(a_base[k]) end
if a_client_id ~= '' and #a_base > 0 then
  redis.call('HSET', k_cids, a_client_id, first)
  -- A hash table past 64 entries, not a listpack scanned on every lookup:
  -- see append.lua.
  if seq >= 64 then
    redis.call('HSETNX', k_cids, '', 'not a client id: a value too long for a listpack keeps this hash a hash table (append.lua)')
  end
end

local flags = ''
for k = 1, #a_once do
  flags = flags .. redis.call('HSETNX', k_meta, a_once[k], a_now)
end
local was = {}
if applied then
  if a_status ~= '' then
    st = a_status
    ver = tostring(redis.call('HINCRBY', k_meta, 'v', 1))
    redis.call('HSET', k_meta, 'status', st)
    pubs[#pubs + 1] = 's' .. ver .. ' ' .. a_state
  end
  if #a_fields > 0 then
    local names = {}
    for k = 1, #a_fields, 2 do names[#names + 1] = a_fields[k] end
    local old = redis.call('HMGET', k_meta, unpack(names))
    for k = 1, #names do
      if old[k] then
        was[#was + 1] = names[k]
        was[#was + 1] = old[k]
      end
    end
    redis.call('HSET', k_meta, unpack(a_fields))
  end
  for k = 1, #a_after do append(a_after[k]) end
end

if last then
  redis.call('HSET', k_meta, 'seq', seq, 'last', last, 'updated', a_now)
else
  redis.call('HSET', k_meta, 'updated', a_now)
end
local ttl = tonumber(a_ttl)
if ttl > 0 then
  redis.call('PEXPIRE', k_meta, ttl)
  redis.call('PEXPIRE', k_log, ttl)
  redis.call('PEXPIRE', k_cids, ttl)
end
for k = 1, #pubs do redis.call(a_pub, a_channel, pubs[k]) end
-- Announced from here, not by the caller afterwards, so the team hears of
-- one conversation's changes in the order they happened. The resume token's
-- hash is no one's business.
if applied and a_team ~= '' then
  local all = redis.call('HGETALL', k_meta)
  local shown = {}
  for k = 1, #all, 2 do
    if all[k] ~= 'rt' and all[k] ~= 'hd' then
      shown[#shown + 1] = all[k]
      shown[#shown + 1] = all[k + 1]
    end
  end
  redis.call('PUBLISH', a_team, 'c' .. a_queue_moved .. '{"id":"' .. a_conv_id .. '","meta":' .. cjson.encode(shown) .. '}')
end

local m = {}
if a_want_meta == '1' then m = redis.call('HGETALL', k_meta) end
return reply{code = 'ok', status = st, version = ver, applied = applied, created = created, once = flags, meta = m, was = was,
  day = redis.call('HGET', k_meta, 'day'), first_seq = first, entries = out}
