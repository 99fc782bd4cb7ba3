-- Decide one seat request atomically.
-- KEYS[1]  the event's gate hash {event:ID}
-- ARGV     hold_id, want, mode (direct|waitlist|promote), allow_partial (1|0), join_waitlist (1|0), now,
--          skip_replay (1 only in the negative-control test that proves the replay check matters)
-- Returns  {status, taken, waitlisted, available, position}
--   position: the new waiting entry's place in the queue (nwait once it joined),
--   counted here because the gate serializes joins: two concurrent joins are never
--   told the same place, and no request counts the queue in PostgreSQL. 0 when
--   this request joined nothing.
--   status: OK (recorded under the hold), REPLAY (this hold was decided before:
--   the first answer is returned unchanged), NONE (nothing taken, nothing
--   recorded), SEATS_AVAILABLE (mode waitlist, the seats can simply be booked),
--   MISSING (no state for this event: rebuild from PostgreSQL, never guess).
-- Everything is checked before the first write: Lua does not roll back.
local gate = KEYS[1]
local hold_field = 'h:' .. ARGV[1]

local prior = redis.call('HGET', gate, hold_field)
if prior and ARGV[7] ~= '1' then
  -- A hold recorded before positions were kept has no fourth part: position 0 (unknown).
  local taken, waitlisted, position = string.match(prior, '^(%d+)|(%d)|%d+|?(%d*)')
  return {'REPLAY', tonumber(taken), tonumber(waitlisted), tonumber(redis.call('HGET', gate, 'avail') or '0'),
          tonumber(position) or 0}
end

local avail = redis.call('HGET', gate, 'avail')
if not avail then
  return {'MISSING', 0, 0, 0, 0}
end
avail = math.max(tonumber(avail), 0)
local want = tonumber(ARGV[2])
local mode = ARGV[3]
local allow_partial = ARGV[4] == '1'
local join_waitlist = ARGV[5] == '1'
local waiting = tonumber(redis.call('HGET', gate, 'nwait') or '0')

local function portion()
  local n = math.min(want, avail)
  if n < want and not allow_partial then return 0 end
  return n
end

local taken = 0
if mode == 'promote' then
  taken = portion()
elseif mode == 'direct' then
  -- No queue jumping: while anyone waits, direct sales take nothing.
  if waiting == 0 then taken = portion() end
elseif mode == 'waitlist' then
  if waiting == 0 and avail >= want then
    return {'SEATS_AVAILABLE', 0, 0, avail, 0}
  end
else
  return redis.error_reply('unknown mode ' .. mode)
end

local waitlisted = 0
if mode ~= 'promote' and join_waitlist and taken < want then waitlisted = 1 end
if taken == 0 and waitlisted == 0 then
  return {'NONE', 0, 0, avail, 0}
end

if taken > 0 then redis.call('HINCRBY', gate, 'avail', -taken) end
local position = 0
if waitlisted == 1 and redis.call('HSETNX', gate, 'w:' .. ARGV[1], '1') == 1 then
  position = redis.call('HINCRBY', gate, 'nwait', 1)
end
redis.call('HSET', gate, hold_field, taken .. '|' .. waitlisted .. '|' .. ARGV[6] .. '|' .. position)
return {'OK', taken, waitlisted, avail - taken, position}
