-- A waitlist entry stopped waiting (served in full, left, cancelled). Idempotent.
-- KEYS[1] gate hash; ARGV[1] the entry's gate key.
local gate = KEYS[1]
if redis.call('HDEL', gate, 'w:' .. ARGV[1]) == 1 then
  redis.call('HINCRBY', gate, 'nwait', -1)
  return 1
end
return 0
