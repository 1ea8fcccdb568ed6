-- append.lua: the hot path. One entry appended to a conversation whose
-- status needs no change (a visitor writing to a person, an agent writing),
-- in as few calls as it can; apply.lua does everything else. Keys,
-- arguments and reply: appendArgs and appendReply in session/store.go.
--
-- code: ok | dup (seq and entry are the stored ones) | nf | state | agent | full
local m = redis.call('HMGET', k_meta, 'status', 'seq', 'agent', 'assigned_at', 'replied_at', 'queued_at', 'email')
local st = m[1]
if not st then return reply{code = 'nf'} end
if not string.find(a_need, ',' .. st .. ',', 1, true) then return reply{code = 'state', status = st, holder = m[3]} end
if a_agent ~= '' and m[3] ~= a_agent then return reply{code = 'agent', status = st, holder = m[3]} end
local seq = tonumber(m[2] or '0') + 1
if seq > tonumber(a_max_seq) then return reply{code = 'full', status = st} end
-- Keys live a month past the last activity; refreshing them now and then
-- is enough for that, and spares two thirds of the calls. A key this step
-- creates gets its lifetime at once: no key is ever without one.
local refresh = seq % 32 == 1
if a_client_id ~= '' then
  if redis.call('HSETNX', k_cids, a_client_id, seq) == 0 then
    local prev = redis.call('HGET', k_cids, a_client_id)
    return reply{code = 'dup', status = st, seq = prev, entry = redis.call('LINDEX', k_log, tonumber(prev) - 1)}
  end
  if not refresh and redis.call('PTTL', k_cids) == -1 then refresh = true end
end
local e = '{"seq":' .. seq .. ',' .. a_entry
if redis.call('RPUSH', k_log, e) == 1 then refresh = true end
redis.call('HSET', k_meta, 'seq', seq, 'last', e, 'updated', a_now)
local counted, day = false, ''
if a_engage == '1' then
  counted = redis.call('HSETNX', k_meta, 'counted', a_now) == 1
  if counted then day = redis.call('HGET', k_meta, 'day') or '' end
end
-- The agent's first words since they were given the conversation: no
-- longer waiting for a reply (and, for the wait estimates, how long the
-- visitor waited).
local first = false
if a_mark_reply == '1' and m[4] and m[4] ~= m[5] then
  redis.call('HSET', k_meta, 'replied_at', m[4])
  first = true
end
-- A person writes while the visitor has no socket open anywhere: the
-- visitor is owed an email, from this entry on (a later worker sends what
-- gathered; see session/mail.go).
local mail = false
if a_mark_reply == '1' and m[7] and m[7] ~= '' and redis.call('ZCOUNT', k_visitors, a_now, '+inf') == 0 then
  redis.call('HSETNX', k_meta, 'mail_from', seq)
  mail = true
end
if refresh then
  -- Redis keeps a small hash as a listpack, searched entry by entry: up to
  -- 512 client ids (the default hash-max-listpack-entries) every HSETNX
  -- above scanned them all: 2-4 us of Redis at 100 widget ids, 13-15 at
  -- 450. One value too long for a listpack turns it into a hash table for
  -- good (1-2 us a call, about 3x the memory), so a conversation long
  -- enough to pay for it gets one. The field "" is never a client id.
  if a_client_id ~= '' and seq >= 64 then
    redis.call('HSETNX', k_cids, '', 'not a client id: a value too long for a listpack keeps this hash a hash table (append.lua)')
  end
  local ttl = tonumber(a_ttl)
  redis.call('PEXPIRE', k_meta, ttl)
  redis.call('PEXPIRE', k_log, ttl)
  redis.call('PEXPIRE', k_cids, ttl)
end
redis.call(a_pub, a_channel, 'e' .. seq .. ' ' .. e)
return reply{code = 'ok', status = st, seq = seq, entry = e, counted = counted, day = day,
  first_reply = first, queued_at = first and m[6] or 0, mail_due = mail}
