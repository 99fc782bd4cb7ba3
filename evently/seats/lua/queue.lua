-- Prepended to every gate script (evently/seats/gate.py): the one home of the waiter
-- marks' bookkeeping and of the rule that decides when the queue claims free seats.
--
-- The gate hash's fields:
--   avail   seats not booked and not held
--   nwait   waiter marks (w:*)
--   npart   marks of entries that take part of their seats ('p')
--   strict  JSON {wanted: count} of the all-or-nothing marks; amin its smallest wanted
--   seq     the last queue number given to a join (waitlist_entries.queue_seq)
--   paused  '1' while an organiser has paused the queue (events.waitlist_paused)
--   w:<key> one per waiting entry: 'p', or the seats an all-or-nothing entry wants
--   h:<id>  one per request between Redis and PostgreSQL: taken|waitlisted|ts|position|seq|mark

-- Could a waiting entry take some of `free` seats right now? Then they are the queue's:
-- direct sales take none of them, and a promotion hands them out. Nobody's entry blocks
-- seats it cannot take: an all-or-nothing entry that does not fit claims nothing.
-- While the queue is paused, every free seat is held for it as long as anyone waits.
local function queue_claims(gate, free)
  if free <= 0 then return false end
  if redis.call('HGET', gate, 'paused') == '1' then
    return tonumber(redis.call('HGET', gate, 'nwait') or '0') > 0
  end
  if tonumber(redis.call('HGET', gate, 'npart') or '0') > 0 then return true end
  local smallest = redis.call('HGET', gate, 'amin')
  return smallest ~= false and tonumber(smallest) <= free
end

local function strict_counts(gate)
  local raw = redis.call('HGET', gate, 'strict')
  if not raw then return {} end
  return cjson.decode(raw)
end

local function store_strict(gate, counts)
  local smallest
  for wanted, _count in pairs(counts) do
    local n = tonumber(wanted)
    if smallest == nil or n < smallest then smallest = n end
  end
  if smallest == nil then
    redis.call('HDEL', gate, 'strict', 'amin')
  else
    redis.call('HSET', gate, 'strict', cjson.encode(counts), 'amin', smallest)
  end
end

-- mark: 'p' for an entry that takes part of its seats, else the seats it wants (a string).
local function add_mark(gate, key, mark)
  if redis.call('HSETNX', gate, 'w:' .. key, mark) == 0 then return false end
  redis.call('HINCRBY', gate, 'nwait', 1)
  if mark == 'p' then
    redis.call('HINCRBY', gate, 'npart', 1)
  else
    local counts = strict_counts(gate)
    counts[mark] = (counts[mark] or 0) + 1
    store_strict(gate, counts)
  end
  return true
end

local function remove_mark(gate, key)
  local mark = redis.call('HGET', gate, 'w:' .. key)
  if not mark then return false end
  redis.call('HDEL', gate, 'w:' .. key)
  redis.call('HINCRBY', gate, 'nwait', -1)
  if mark == 'p' then
    redis.call('HINCRBY', gate, 'npart', -1)
  else
    local counts = strict_counts(gate)
    local left = (counts[mark] or 1) - 1
    if left > 0 then counts[mark] = left else counts[mark] = nil end
    store_strict(gate, counts)
  end
  return true
end

-- Fields of a hold record: taken, waitlisted ('0'|'1'), position, seq, mark.
local function parse_hold(record)
  local taken, waitlisted, _ts, position, seq, mark = string.match(record, '^(%d+)|(%d)|(%d+)|(%d+)|(%d+)|(.*)$')
  return tonumber(taken), waitlisted, tonumber(position), tonumber(seq), mark
end
