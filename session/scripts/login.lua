-- login.lua: count a failed sign-in against the address and against the
-- (address, account) pair, and say how long each must now wait (keys,
-- arguments, reply: loginArgs and loginReply in session/accounts.go).
-- Failures beyond the free ones double the wait each time, up to a cap: a
-- guesser slows down fast, and nobody else is held back.
local function fail(key, free, cap)
  local n = redis.call('HINCRBY', key, 'n', 1)
  local wait = 0
  if n > tonumber(free) then
    wait = math.min(tonumber(cap), 1000 * 2 ^ (n - tonumber(free) - 1))
    redis.call('HSET', key, 'until', tonumber(a_now) + wait)
  end
  redis.call('PEXPIRE', key, a_ttl)
  return wait
end
local pair = fail(k_pair, a_pair_free, a_pair_cap)
local addr = fail(k_addr, a_addr_free, a_addr_cap)
return reply{wait = math.max(pair, addr)}
