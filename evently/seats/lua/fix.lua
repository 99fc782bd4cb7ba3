-- Make an event's gate agree with PostgreSQL exactly. Called while the caller holds the
-- event's row lock, so no booking, waitlist join or hold release can commit meanwhile
-- (their writes need that row); takes still run, adding holds, which are seen here.
-- The caller compares the waiter marks with PostgreSQL's waiting entries (that is
-- O(queue)) and passes only the differences and the totals, so this script blocks Redis
-- for O(holds + differences), never O(queue).
-- KEYS[1] gate hash
-- ARGV[1] capacity - booked_seats; ARGV[2] waiting entries; ARGV[3] of them taking part of
--   their seats; ARGV[4] JSON {wanted: count} of the all-or-nothing ones; ARGV[5] the largest
--   queue number in PostgreSQL; ARGV[6] '1' if the queue is paused; ARGV[7] R resolved hold ids;
--   ARGV[8] D marks to drop
-- ARGV[9 .. 8+R] resolved hold ids (committed or released in PostgreSQL); then D marks to
--   drop (their entries do not wait); then pairs (gate key, mark) to set (missing or wrong).
-- Holds that are not resolved are requests in flight: their seats stay taken and their
-- waiter marks stay and count, so a correction never frees a seat a commit is about to use.
-- Returns {avail_before, avail_after, waiters_added, waiters_removed, holds_dropped},
-- or {-1} without writing anything if the gate is missing (the caller builds it).
local gate = KEYS[1]
local before = redis.call('HGET', gate, 'avail')
if not before then return {-1} end
local free, waiting, partial = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local counts = cjson.decode(ARGV[4])
local n_resolved, n_drop = tonumber(ARGV[7]), tonumber(ARGV[8])
local first_drop = 9 + n_resolved
local first_set = first_drop + n_drop
local resolved = {}
for i = 9, first_drop - 1 do resolved[ARGV[i]] = true end

-- The holds, found by Redis itself (HSCAN's MATCH filters in C). HSCAN may return a
-- field twice, so they are collected before anything is counted or deleted.
local holds, cursor = {}, '0'
repeat
  local page = redis.call('HSCAN', gate, cursor, 'MATCH', 'h:*', 'COUNT', 1000)
  cursor = page[1]
  for i = 1, #page[2], 2 do holds[string.sub(page[2][i], 3)] = page[2][i + 1] end
until cursor == '0'

local in_flight, holds_dropped, added, removed = 0, 0, 0, 0
for id, record in pairs(holds) do
  if resolved[id] then
    redis.call('HDEL', gate, 'h:' .. id)
    holds_dropped = holds_dropped + 1
  else
    local taken, waitlisted, _position, _seq, mark = parse_hold(record)
    in_flight = in_flight + taken
    if waitlisted == '1' then
      waiting = waiting + 1
      if mark == 'p' then partial = partial + 1 else counts[mark] = (counts[mark] or 0) + 1 end
      if redis.call('HSETNX', gate, 'w:' .. id, mark) == 1 then added = added + 1 end
    end
  end
end
for i = first_drop, first_set - 1 do
  local id = ARGV[i]
  local in_flight_join = holds[id] and not resolved[id]
  if not in_flight_join and redis.call('HDEL', gate, 'w:' .. id) == 1 then removed = removed + 1 end
end
for i = first_set, #ARGV, 2 do
  if redis.call('HSET', gate, 'w:' .. ARGV[i], ARGV[i + 1]) == 1 then added = added + 1 end
end

local after = free - in_flight
local seq = math.max(tonumber(redis.call('HGET', gate, 'seq') or '0'), tonumber(ARGV[5]))
redis.call('HSET', gate, 'avail', after, 'nwait', waiting, 'npart', partial, 'seq', seq, 'paused', ARGV[6])
store_strict(gate, counts)
return {tonumber(before), after, added, removed, holds_dropped}
