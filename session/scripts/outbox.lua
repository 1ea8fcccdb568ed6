-- outbox.lua: compare-and-set of a conversation's helpdesk handoff record
-- (keys, arguments, reply: casArgs and casReply in session/outbox.go). The
-- record lives in the conversation's meta hash, so this is atomic with
-- everything else about the conversation, in its one slot.
--
-- code: ok | conflict (version is the current one) | nf: no handoff (the
-- conversation expired, or never was handed off); the hash is never
-- recreated.
local v = redis.call('HGET', k_meta, 'hd_v')
if not v then return reply{code = 'nf'} end
if v ~= a_version then return reply{code = 'conflict', version = v} end
v = redis.call('HINCRBY', k_meta, 'hd_v', 1)
redis.call('HSET', k_meta, 'hd', a_record, 'ticket', a_ticket, 'updated', a_now)
if a_team ~= '' then
  local all = redis.call('HGETALL', k_meta)
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
  redis.call('PUBLISH', a_team, 'c0{"id":"' .. a_conv_id .. '","meta":' .. cjson.encode(shown) .. '}')
end
return reply{code = 'ok', version = tostring(v)}
