-- Build an event's gate from PostgreSQL's numbers, only if it has none.
-- KEYS[1] gate hash; ARGV[1] available seats; ARGV[2..] gate keys of waiting entries.
-- Returns 1 if built, 0 if another caller built it first.
local gate = KEYS[1]
if redis.call('HEXISTS', gate, 'avail') == 1 then return 0 end
redis.call('HSET', gate, 'avail', ARGV[1])
local waiting = 0
for i = 2, #ARGV do
  if redis.call('HSETNX', gate, 'w:' .. ARGV[i], '1') == 1 then waiting = waiting + 1 end
end
redis.call('HSET', gate, 'nwait', waiting)
return 1
