-- Number later joins after ARGV[1] (an entry an organiser moved to the back of the queue).
-- KEYS[1] gate hash. A missing gate is left missing: a rebuild counts on from PostgreSQL.
if redis.call('HEXISTS', KEYS[1], 'avail') == 0 then return 0 end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'seq', ARGV[1]) end
return 1
