-- Undo a hold that will never be booked: its seats go back, its waiter mark goes.
-- Idempotent: a second call (or a retried one) finds no hold and does nothing.
-- KEYS[1] gate hash; ARGV[1] hold_id. Returns the seats given back.
local gate = KEYS[1]
local record = redis.call('HGET', gate, 'h:' .. ARGV[1])
if not record then return 0 end
local taken, waitlisted = parse_hold(record)
if taken > 0 and redis.call('HEXISTS', gate, 'avail') == 1 then
  redis.call('HINCRBY', gate, 'avail', taken)
end
if waitlisted == '1' then remove_mark(gate, ARGV[1]) end
redis.call('HDEL', gate, 'h:' .. ARGV[1])
return taken
