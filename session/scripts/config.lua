-- config.lua: compare-and-set of one field of a merchant's configuration
-- with its version field (keys, arguments, reply: configArgs and
-- configReply in session/admin.go), then the invalidation every node's
-- cache listens for.
--
-- code: ok | stale (version is the current one)
local v = redis.call('HGET', k_cfg, a_version_field) or '0'
if a_expect ~= '' and v ~= a_expect then return reply{code = 'stale', version = v} end
redis.call('HSET', k_cfg, a_field, a_value)
v = redis.call('HINCRBY', k_cfg, a_version_field, 1)
redis.call('PUBLISH', a_control, 'x' .. a_merchant)
return reply{code = 'ok', version = v}
