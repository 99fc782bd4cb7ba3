-- Make an event's gate agree with PostgreSQL exactly. Called while the caller
-- holds the event's row lock, so no booking, waitlist join or hold release can
-- commit meanwhile (their writes need that row); takes still run, adding holds.
-- The caller compares the waiter marks with PostgreSQL's waiting entries (that is
-- O(queue)) and passes only the differences, so this script blocks Redis for
-- O(holds + differences): with 20,000 waiters, comparing them here took 75-110 ms,
-- during which Redis served nobody (every event's gate, the limiter, the broker).
-- KEYS[1] gate hash
-- ARGV[1] capacity - booked_seats (PostgreSQL)
-- ARGV[2] R, the number of resolved hold ids (committed or released in PostgreSQL)
-- ARGV[3] D, the number of marks to drop: marks the caller saw for entries that do not
--         wait in PostgreSQL. A mark whose hold is still here is a join in flight: it stays.
-- ARGV[4 .. 3+R] resolved hold ids; ARGV[4+R .. 3+R+D] marks to drop;
-- ARGV[4+R+D ..] gate keys of waiting entries whose marks the caller did not see.
-- Holds that are not resolved are in flight: their seats stay taken and their
-- waiter marks stay, so a correction never frees a seat a commit is about to use.
-- Relies on the gate's fields being avail, nwait, h:* and w:* only (gate.py), and on
-- nwait being the number of w:* fields, so it is counted as HLEN minus the others.
-- Returns {avail_before, avail_after, waiters_added, waiters_removed, holds_dropped},
-- or {-1} without writing anything if the gate is missing (the caller rebuilds it).
local gate = KEYS[1]
local before = redis.call('HGET', gate, 'avail')
if not before then return {-1} end
local free = tonumber(ARGV[1])
local n_resolved, n_drop = tonumber(ARGV[2]), tonumber(ARGV[3])
local resolved = {}
for i = 4, 3 + n_resolved do resolved[ARGV[i]] = true end

-- The holds, found by Redis itself (HSCAN's MATCH filters in C). HSCAN may return a
-- field twice, so they are collected before anything is counted or deleted.
local holds, cursor = {}, '0'
repeat
  local page = redis.call('HSCAN', gate, cursor, 'MATCH', 'h:*', 'COUNT', 1000)
  cursor = page[1]
  for i = 1, #page[2], 2 do holds[string.sub(page[2][i], 3)] = page[2][i + 1] end
until cursor == '0'

local in_flight, holds_left, holds_dropped, added, removed = 0, 0, 0, 0, 0
for id, record in pairs(holds) do
  if resolved[id] then
    redis.call('HDEL', gate, 'h:' .. id)
    holds_dropped = holds_dropped + 1
  else
    holds_left = holds_left + 1
    local taken, waitlisted = string.match(record, '^(%d+)|(%d)|')
    in_flight = in_flight + tonumber(taken)
    if waitlisted == '1' and redis.call('HSETNX', gate, 'w:' .. id, '1') == 1 then added = added + 1 end
  end
end
for i = 4 + n_resolved, 3 + n_resolved + n_drop do
  local id = ARGV[i]
  local in_flight_join = holds[id] and not resolved[id]
  if not in_flight_join and redis.call('HDEL', gate, 'w:' .. id) == 1 then removed = removed + 1 end
end
for i = 4 + n_resolved + n_drop, #ARGV do
  if redis.call('HSETNX', gate, 'w:' .. ARGV[i], '1') == 1 then added = added + 1 end
end

local after = free - in_flight
redis.call('HSET', gate, 'avail', after, 'nwait', 0)
redis.call('HSET', gate, 'nwait', redis.call('HLEN', gate) - holds_left - 2)
return {tonumber(before), after, added, removed, holds_dropped}
