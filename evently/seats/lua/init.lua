-- Build an event's gate from PostgreSQL's numbers, only if it has none.
-- KEYS[1] gate hash; ARGV[1] available seats; ARGV[2] the largest queue number given;
-- ARGV[3] '1' if the queue is paused; ARGV[4..] pairs of (gate key, mark) of the waiting entries.
-- Returns 1 if built, 0 if another caller built it first.
local gate = KEYS[1]
if redis.call('HEXISTS', gate, 'avail') == 1 then return 0 end
local waiting, partial, counts = 0, 0, {}
for i = 4, #ARGV, 2 do
  local mark = ARGV[i + 1]
  if redis.call('HSETNX', gate, 'w:' .. ARGV[i], mark) == 1 then
    waiting = waiting + 1
    if mark == 'p' then partial = partial + 1 else counts[mark] = (counts[mark] or 0) + 1 end
  end
end
redis.call('HSET', gate, 'avail', ARGV[1], 'nwait', waiting, 'npart', partial, 'seq', ARGV[2], 'paused', ARGV[3])
store_strict(gate, counts)
return 1
