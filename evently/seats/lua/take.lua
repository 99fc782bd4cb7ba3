-- Decide one seat request atomically.
-- KEYS[1]  the event's gate hash
-- ARGV     hold_id, want, mode (direct|waitlist|promote), allow_partial (1|0), join_waitlist (1|0), now
-- Returns  {status, taken, waitlisted, available, position, seq, serve}
--   status: OK (recorded under the hold), REPLAY (this hold was decided before: the first
--   answer is returned unchanged; redis-py re-runs a script whose reply timed out),
--   NONE (nothing taken, nothing recorded), SEATS_AVAILABLE (mode waitlist: the seats can
--   simply be booked), MISSING (no gate: rebuild it from PostgreSQL, never guess).
--   position, seq: a new waiting entry's place and queue number, counted here because the
--   gate serialises joins (no two are told the same place); 0 when nothing joined.
--   serve: 1 when free seats are left that a waiting entry could take (request a promotion).
-- direct takes only seats the queue does not claim (queue.lua); promote takes what is free
-- (the promotion chose the entry); waitlist only queues.
-- Everything is checked before the first write: Lua does not roll back.
local gate = KEYS[1]
local hold_id = ARGV[1]

local prior = redis.call('HGET', gate, 'h:' .. hold_id)
if prior then
  local taken, waitlisted, position, seq = parse_hold(prior)
  return {'REPLAY', taken, tonumber(waitlisted), tonumber(redis.call('HGET', gate, 'avail') or '0'), position, seq, 0}
end

local avail = redis.call('HGET', gate, 'avail')
if not avail then return {'MISSING', 0, 0, 0, 0, 0, 0} end
avail = math.max(tonumber(avail), 0)
local want = tonumber(ARGV[2])
local mode = ARGV[3]
local allow_partial = ARGV[4] == '1'
local join_waitlist = ARGV[5] == '1'

local function portion()
  local n = math.min(want, avail)
  if n < want and not allow_partial then return 0 end
  return n
end

local taken = 0
if mode == 'promote' then
  taken = portion()
elseif mode == 'direct' then
  if not queue_claims(gate, avail) then taken = portion() end
elseif mode == 'waitlist' then
  if avail >= want and not queue_claims(gate, avail) then
    return {'SEATS_AVAILABLE', 0, 0, avail, 0, 0, 0}
  end
else
  return redis.error_reply('unknown mode ' .. mode)
end

local waitlisted = 0
if mode ~= 'promote' and join_waitlist and taken < want then waitlisted = 1 end
if taken == 0 and waitlisted == 0 then return {'NONE', 0, 0, avail, 0, 0, 0} end

if taken > 0 then redis.call('HINCRBY', gate, 'avail', -taken) end
local position, seq, mark = 0, 0, ''
if waitlisted == 1 then
  if allow_partial then mark = 'p' else mark = tostring(want - taken) end
  add_mark(gate, hold_id, mark)
  position = tonumber(redis.call('HGET', gate, 'nwait'))
  seq = redis.call('HINCRBY', gate, 'seq', 1)
end
redis.call('HSET', gate, 'h:' .. hold_id,
           taken .. '|' .. waitlisted .. '|' .. ARGV[6] .. '|' .. position .. '|' .. seq .. '|' .. mark)
local serve = 0
if queue_claims(gate, avail - taken) then serve = 1 end
return {'OK', taken, waitlisted, avail - taken, position, seq, serve}
