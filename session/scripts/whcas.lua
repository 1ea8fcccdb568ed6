-- whcas.lua: compare-and-set of one webhook delivery's record (keys,
-- arguments, reply: whcasArgs and whcasReply in session/webhook_delivery.go).
-- The record and the merchant's dead letters share the merchant's slot, so
-- the dead letters listed are exactly the failed records.
--
-- code: ok | conflict (version is the current one) | nf (expired or never
-- was; the record is never recreated).
local v = redis.call('HGET', k_rec, 'v')
if not v then return reply{code = 'nf', version = ''} end
if v ~= a_expect then return reply{code = 'conflict', version = v} end
v = redis.call('HINCRBY', k_rec, 'v', 1)
redis.call('HSET', k_rec, 'r', a_record)
redis.call('PEXPIRE', k_rec, a_ttl)
if a_state == 'failed' then
  redis.call('ZADD', k_failed, a_now, a_id)
  redis.call('PEXPIRE', k_failed, a_ttl)
else
  redis.call('ZREM', k_failed, a_id)
end
return reply{code = 'ok', version = tostring(v)}
