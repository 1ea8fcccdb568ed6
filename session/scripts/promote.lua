-- promote.lua: move retries whose time has come from the schedule into the
-- outbox stream, atomically (both keys carry the hash tag {hd}), so a retry
-- is never both dropped from the schedule and missing from the stream.
-- Keys, arguments, reply: promoteArgs and promoteReply in session/outbox.go.
-- The schedule is a zset: score = not-before ms, member = "conv|handoff".
local due = redis.call('ZRANGEBYSCORE', k_due, '-inf', a_now, 'LIMIT', 0, tonumber(a_limit))
for _, m in ipairs(due) do
  local sep = string.find(m, '|', 1, true)
  if sep then
    redis.call('XADD', k_stream, '*', 'c', string.sub(m, 1, sep - 1), 'h', string.sub(m, sep + 1))
  end
  redis.call('ZREM', k_due, m)
end
return reply{moved = #due}
