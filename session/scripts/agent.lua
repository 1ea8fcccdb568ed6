-- agent.lua: change one agent account atomically (keys, arguments, reply:
-- agentArgs and agentReply in session/accounts.go): replace it ("put") or
-- remove it ("del"), if it is still as the caller read it; bump its token
-- version (its earlier tokens stop working); refuse a change that would
-- leave the merchant without an enabled admin; tell every node.
--
-- code: ok | nf | conflict | last_admin
local cur = redis.call('HGET', k_agents, a_agent)
if not cur then return reply{code = 'nf'} end
if a_expect ~= '' and cur ~= a_expect then return reply{code = 'conflict'} end
if a_keep_admin == '1' then
  local admins = 0
  local all = redis.call('HGETALL', k_agents)
  for i = 1, #all, 2 do
    local v = all[i + 1]
    if all[i] == a_agent then v = a_value end
    if v ~= '' then
      local ok, ag = pcall(cjson.decode, v)
      if ok and ag.role == 'admin' and not ag.disabled then admins = admins + 1 end
    end
  end
  if admins == 0 then return reply{code = 'last_admin'} end
end
if a_op == 'del' then
  redis.call('HDEL', k_agents, a_agent)
  redis.call('HDEL', k_tv, a_agent)
else
  redis.call('HSET', k_agents, a_agent, a_value)
end
local tv = 0
if a_bump == '1' and a_op ~= 'del' then
  tv = redis.call('HINCRBY', k_tv, a_agent, 1)
else
  tv = tonumber(redis.call('HGET', k_tv, a_agent) or '0')
end
redis.call('PUBLISH', a_control, 'a' .. a_merchant .. ' ' .. a_agent)
return reply{code = 'ok', version = tv}
