-- Pause or resume the queue (see queue_claims). A missing gate is left missing: the
-- next rebuild reads events.waitlist_paused. KEYS[1] gate hash; ARGV[1] '1' | '0'.
if redis.call('HEXISTS', KEYS[1], 'avail') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'paused', ARGV[1])
return 1
