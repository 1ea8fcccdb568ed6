-- rate.lua: the visitor's rating of an ended conversation, once (keys,
-- arguments, reply: rateArgs and rateReply in session/csat.go). Only a
-- conversation that asked for one (a person took part) takes it.
--
-- code: ok | nf | not_asked | already
local st = redis.call('HMGET', k_meta, 'status', 'csat_due', 'mid')
if not st[1] or st[3] ~= a_merchant then return reply{code = 'nf'} end
if st[1] ~= 'closed' or st[2] ~= '1' then return reply{code = 'not_asked'} end
if redis.call('HSETNX', k_meta, 'csat_at', a_now) == 0 then return reply{code = 'already'} end
redis.call('HSET', k_meta, 'csat_score', a_score, 'csat_comment', a_comment)
return reply{code = 'ok'}
