-- hdauth.lua: a helpdesk integration's credential record (keys, arguments,
-- reply: authArgs and authReply in session/helpdesk_auth.go). The record is
-- a hash in the merchant's slot: gen (bumped by every change, never reset),
-- tok (the sealed OAuth token pair), status ('' or 'needs_reconnect'),
-- reason, at. The renewal lease is a string beside it holding its holder's
-- fencing value; the merchant's configuration holds the account.
--
-- op:
--   put        a renewal's new pair, if the record is still at gen expect
--   fail       the integration needs reconnecting, if still at gen expect
--   release    give the lease back, if it is still the caller's
--   connect    the account (field = value in cfg) and its first pair, one
--              change; any lease is void
--   disconnect the account removed, unless it is the merchant's handoff
--              method (code in_use)
-- code: ok | conflict (gen is the current one) | in_use
local function release()
  if redis.call('GET', k_lease) == a_fence then redis.call('DEL', k_lease) end
end
local gen = tonumber(redis.call('HGET', k_auth, 'gen') or '0')

if a_op == 'release' then
  release()
  return reply{code = 'ok', gen = gen}
end

if a_op == 'put' or a_op == 'fail' then
  if tostring(gen) ~= a_expect then
    release()
    return reply{code = 'conflict', gen = gen}
  end
  gen = redis.call('HINCRBY', k_auth, 'gen', 1)
  if a_op == 'put' then
    redis.call('HSET', k_auth, 'tok', a_token, 'status', '', 'reason', '', 'at', a_now)
  else
    redis.call('HSET', k_auth, 'status', 'needs_reconnect', 'reason', a_reason, 'at', a_now)
  end
  release()
  return reply{code = 'ok', gen = gen}
end

if a_op == 'disconnect' then
  local raw = redis.call('HGET', k_cfg, 'settings')
  if raw then
    local ok, set = pcall(cjson.decode, raw)
    if ok and type(set) == 'table' and type(set.handoff) == 'table' and set.handoff.method == a_method then
      return reply{code = 'in_use', gen = gen}
    end
  end
  redis.call('HDEL', k_cfg, a_field)
  -- A settings write that read the integration before this one removed it
  -- fails its compare-and-set and reads again (config.lua).
  redis.call('HINCRBY', k_cfg, 'settings_v', 1)
  gen = redis.call('HINCRBY', k_auth, 'gen', 1)
  redis.call('HDEL', k_auth, 'tok', 'status', 'reason')
  redis.call('HSET', k_auth, 'at', a_now)
else -- connect
  redis.call('HSET', k_cfg, a_field, a_value)
  gen = redis.call('HINCRBY', k_auth, 'gen', 1)
  redis.call('HSET', k_auth, 'tok', a_token, 'status', '', 'reason', '', 'at', a_now)
end
redis.call('DEL', k_lease)
redis.call('PUBLISH', a_control, 'x' .. a_merchant)
return reply{code = 'ok', gen = gen}
