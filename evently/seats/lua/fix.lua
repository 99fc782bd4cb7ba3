-- Make an event's gate agree with PostgreSQL exactly. Called while the caller
-- holds the event's row lock, so no booking can commit meanwhile.
-- KEYS[1] gate hash
-- ARGV[1] capacity - booked_seats (PostgreSQL)
-- ARGV[2] number N of resolved hold ids that follow (committed or released in PostgreSQL)
-- ARGV[3 .. 2+N] resolved hold ids; ARGV[3+N ..] gate keys of entries waiting in PostgreSQL
-- Holds that are not resolved are in flight: their seats stay taken and their
-- waiter marks stay, so a correction never frees a seat a commit is about to use.
-- Returns {avail_before (-1 if missing), avail_after, waiters_added, waiters_removed, holds_dropped}
local gate = KEYS[1]
local free = tonumber(ARGV[1])
local n_resolved = tonumber(ARGV[2])
local resolved, expected_waiters = {}, {}
for i = 3, 2 + n_resolved do resolved[ARGV[i]] = true end
for i = 3 + n_resolved, #ARGV do expected_waiters[ARGV[i]] = true end

local before = redis.call('HGET', gate, 'avail')
local fields = redis.call('HGETALL', gate)
local in_flight, holds_dropped = 0, 0
local current_waiters = {}
for i = 1, #fields, 2 do
  local name, value = fields[i], fields[i + 1]
  local kind, id = string.sub(name, 1, 2), string.sub(name, 3)
  if kind == 'h:' then
    if resolved[id] then
      redis.call('HDEL', gate, name)
      holds_dropped = holds_dropped + 1
    else
      local taken, waitlisted = string.match(value, '^(%d+)|(%d)|')
      in_flight = in_flight + tonumber(taken)
      if waitlisted == '1' then expected_waiters[id] = true end
    end
  elseif kind == 'w:' then
    current_waiters[id] = true
  end
end

local added, removed, count = 0, 0, 0
for id in pairs(current_waiters) do
  if not expected_waiters[id] then
    redis.call('HDEL', gate, 'w:' .. id)
    removed = removed + 1
  end
end
for id in pairs(expected_waiters) do
  count = count + 1
  if not current_waiters[id] then
    redis.call('HSET', gate, 'w:' .. id, '1')
    added = added + 1
  end
end
redis.call('HSET', gate, 'nwait', count)
local after = free - in_flight
redis.call('HSET', gate, 'avail', after)
return {before and tonumber(before) or -1, after, added, removed, holds_dropped}
