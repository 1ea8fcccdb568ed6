-- unawait.lua: takes a conversation off the merchant's set of assignments
-- awaiting a first reply, only if its entry is still the one the routing
-- pass read (scored by that assignment's time): the conversation may have
-- been given to someone else since, and that assignment keeps its own
-- entry. (Keys, arguments, reply: unawaitArgs and unawaitReply in
-- session/routing.go.)
local s = redis.call('ZSCORE', k_set, a_member)
if s and tonumber(s) == tonumber(a_score) then
  redis.call('ZREM', k_set, a_member)
  return reply{removed = true}
end
return reply{removed = false}
