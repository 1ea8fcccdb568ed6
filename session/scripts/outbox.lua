-- outbox.lua: compare-and-set of a conversation's helpdesk handoff record.
--
-- KEYS[1] the conversation's meta hash (the record lives there, so this is
-- atomic with everything else about the conversation, in its one slot)
--
-- ARGV[1] the version the caller read ("hd_v")
-- ARGV[2] the new record (JSON, field "hd")
-- ARGV[3] its public view (JSON of session.Ticket, field "ticket")
-- ARGV[4] now, ms
-- ARGV[5] the merchant's channel, to announce the change on ("" = none)
-- ARGV[6] the conversation id, for the announcement
--
-- Reply: {'ok', version} | {'conflict', version} | {'nf'}
-- 'nf': no handoff (the conversation expired, or never was handed off); the
-- hash is never recreated.
local v = redis.call('HGET', KEYS[1], 'hd_v')
if not v then return {'nf'} end
if v ~= ARGV[1] then return {'conflict', v} end
v = redis.call('HINCRBY', KEYS[1], 'hd_v', 1)
redis.call('HSET', KEYS[1], 'hd', ARGV[2], 'ticket', ARGV[3], 'updated', ARGV[4])
if ARGV[5] ~= '' then
  local all = redis.call('HGETALL', KEYS[1])
  -- Announced from here, like apply.lua's changes, so consoles hear of one
  -- conversation's changes in the order they happened. The resume token's
  -- hash is no one's business, and the record is the outbox's.
  local shown = {}
  for k = 1, #all, 2 do
    if all[k] ~= 'rt' and all[k] ~= 'hd' then
      shown[#shown + 1] = all[k]
      shown[#shown + 1] = all[k + 1]
    end
  end
  redis.call('PUBLISH', ARGV[5], 'c0{"id":"' .. ARGV[6] .. '","meta":' .. cjson.encode(shown) .. '}')
end
return {'ok', tostring(v)}
