-- assign.lua: give queued conversations to available agents, in one step
-- on the merchant's slot (keys, arguments, reply: assignArgs and
-- assignReply in session/routing.go), so that of any number of nodes
-- reacting to the same change exactly one gives each conversation to
-- exactly one agent, and nobody goes over capacity.
--
-- Oldest queued first; to the available agent (an open console, presence
-- not away, not disabled, not cooling down) with the fewest conversations
-- under their capacity, ties to the one who has waited longest since
-- their last new conversation. A conversation handed out is reserved for
-- a_lease ms (another step is under way for it) and already counted in
-- its agent's set; the caller then makes the claim in the conversation's
-- own step, and takes both back if that is refused.
local now = tonumber(a_now)
local avail = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', k_consoles, now, '+inf')) do
  local sep = string.find(m, '|', 1, true)
  if sep then avail[string.sub(m, 1, sep - 1)] = true end
end
local cands = {}
for aid in pairs(avail) do
  local raw = redis.call('HGET', k_agents, aid)
  local ok, ag = false, nil
  if raw then ok, ag = pcall(cjson.decode, raw) end
  local cool = tonumber(redis.call('ZSCORE', k_cool, aid) or '0')
  if ok and not ag.disabled and redis.call('HGET', k_presence, aid) ~= 'away' and cool <= now then
    local cap = tonumber(a_capacity)
    if type(ag.capacity) == 'number' and ag.capacity > 0 then cap = ag.capacity end
    local load = redis.call('SCARD', a_sets .. aid)
    if load < cap then
      cands[#cands + 1] = {aid = aid, name = ag.name or '', load = load, cap = cap,
        idle = tonumber(redis.call('ZSCORE', k_idle, aid) or '0')}
    end
  end
end
redis.call('ZREMRANGEBYSCORE', k_reserved, '-inf', now)
local out = {}
if #cands == 0 then return reply{assigned = out} end
local queued = redis.call('ZRANGE', k_queue, 0, tonumber(a_scan) - 1)
local n = 0
for _, member in ipairs(queued) do
  if n >= tonumber(a_max) or #cands == 0 then break end
  if not redis.call('ZSCORE', k_reserved, member) then
    local best = nil
    for i, c in ipairs(cands) do
      if not best or c.load < cands[best].load or (c.load == cands[best].load and (c.idle < cands[best].idle or
          (c.idle == cands[best].idle and c.aid < cands[best].aid))) then
        best = i
      end
    end
    local c = cands[best]
    local sep = string.find(member, '|', 1, true)
    local conv = sep and string.sub(member, 1, sep - 1) or member
    redis.call('ZADD', k_reserved, now + tonumber(a_lease), member)
    redis.call('SADD', a_sets .. c.aid, conv)
    redis.call('ZADD', k_idle, now, c.aid)
    out[#out + 1] = member
    out[#out + 1] = c.aid
    out[#out + 1] = c.name
    n = n + 1
    c.load = c.load + 1
    c.idle = now
    if c.load >= c.cap then table.remove(cands, best) end
  end
end
return reply{assigned = out}
