-- mail.lua: where a conversation's owed email stands, changed atomically
-- in its meta hash (keys, arguments, reply: mailArgs and mailReply in
-- session/mail.go).
--
-- take: lease the owed email for a_holder until a_until. nothing: none is
--   owed (or it failed and waits for an admin); busy: another holds a
--   live lease; died: a holder's lease ran out mid-send, so the email may
--   or may not have gone; it is marked failed, never sent again by itself.
-- done: the holder sent up to seq a_upto: owed from a_upto+1 if the
--   transcript has grown since, else nothing.
-- retry: the holder failed before the email could have gone; owed as
--   before (the caller reschedules it).
-- fail: the holder gives up (a_error); an admin may retry.
-- reset: an admin's retry of a failed email.
--
-- code: ok | nothing | busy | died | lost (the holder's lease is gone)
local f = redis.call('HMGET', k_meta, 'mail_from', 'mail_lease', 'mail_state', 'seq', 'mail_tries')
local from, lease, state, seq = f[1], f[2], f[3], tonumber(f[4] or '0')
local now = tonumber(a_now)
local holder, untilms = nil, 0
if lease then
  local sep = string.find(lease, '|', 1, true)
  holder, untilms = string.sub(lease, 1, sep - 1), tonumber(string.sub(lease, sep + 1))
end
if a_op == 'take' then
  if not from or state == 'failed' then return reply{code = 'nothing'} end
  if holder and untilms > now then return reply{code = 'busy'} end
  if holder then
    redis.call('HSET', k_meta, 'mail_state', 'failed', 'mail_error', 'the email may not have arrived (the sender stopped mid-send)')
    redis.call('HDEL', k_meta, 'mail_lease')
    return reply{code = 'died'}
  end
  redis.call('HSET', k_meta, 'mail_lease', a_holder .. '|' .. a_until)
  return reply{code = 'ok', from = tonumber(from), seq = seq, tries = tonumber(f[5] or '0')}
end
if a_op == 'reset' then
  if state ~= 'failed' then return reply{code = 'nothing'} end
  redis.call('HDEL', k_meta, 'mail_state', 'mail_error', 'mail_lease', 'mail_tries')
  return reply{code = 'ok'}
end
if holder ~= a_holder then return reply{code = 'lost'} end
redis.call('HDEL', k_meta, 'mail_lease')
if a_op == 'done' then
  redis.call('HSET', k_meta, 'mail_sent', a_upto, 'mail_tries', 0)
  redis.call('HDEL', k_meta, 'mail_error')
  if seq > tonumber(a_upto) then
    redis.call('HSET', k_meta, 'mail_from', tonumber(a_upto) + 1)
    return reply{code = 'ok', seq = seq, from = tonumber(a_upto) + 1}
  end
  redis.call('HDEL', k_meta, 'mail_from')
  return reply{code = 'ok', seq = seq}
end
if a_op == 'retry' then
  redis.call('HINCRBY', k_meta, 'mail_tries', 1)
  redis.call('HSET', k_meta, 'mail_error', a_error)
  return reply{code = 'ok'}
end
redis.call('HSET', k_meta, 'mail_state', 'failed', 'mail_error', a_error)
return reply{code = 'ok'}
