-- promote.lua: move retries whose time has come from the schedule into the
-- outbox stream, atomically (both keys carry the hash tag {hd}), so a retry
-- is never both dropped from the schedule and missing from the stream.
--
-- KEYS[1] the schedule (zset: score = not-before ms, member = "conv|handoff")
-- KEYS[2] the outbox stream
-- ARGV[1] now, ms; ARGV[2] at most this many
--
-- Reply: how many were moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do
  local sep = string.find(m, '|', 1, true)
  if sep then
    redis.call('XADD', KEYS[2], '*', 'c', string.sub(m, 1, sep - 1), 'h', string.sub(m, sep + 1))
  end
  redis.call('ZREM', KEYS[1], m)
end
return #due
