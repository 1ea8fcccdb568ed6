-- outbox.lua: compare-and-set of a conversation's helpdesk handoff record.
--
-- KEYS[1] the conversation's meta hash (the record lives there, so this is
-- atomic with everything else about the conversation, in its one slot)
--
-- ARGV[1] the version the caller read ("hd_v")
-- ARGV[2] the new record (JSON, field "hd")
-- ARGV[3] its public view (JSON of session.Ticket, field "ticket")
-- ARGV[4] now, ms
--
-- Reply: {'ok', version, meta...} | {'conflict', version} | {'nf'}
-- 'nf': no handoff (the conversation expired, or never was handed off); the
-- hash is never recreated.
local v = redis.call('HGET', KEYS[1], 'hd_v')
if not v then return {'nf'} end
if v ~= ARGV[1] then return {'conflict', v} end
v = redis.call('HINCRBY', KEYS[1], 'hd_v', 1)
redis.call('HSET', KEYS[1], 'hd', ARGV[2], 'ticket', ARGV[3], 'updated', ARGV[4])
return {'ok', tostring(v), redis.call('HGETALL', KEYS[1])}
