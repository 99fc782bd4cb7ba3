-- What a buyer sees: {seats a direct booking can take now, waitlist entries}, or {-1, 0}
-- when the event has no gate. Read-only. KEYS[1] gate hash.
local gate = KEYS[1]
local avail = redis.call('HGET', gate, 'avail')
if not avail then return {-1, 0} end
avail = math.max(tonumber(avail), 0)
local waiting = tonumber(redis.call('HGET', gate, 'nwait') or '0')
if queue_claims(gate, avail) then return {0, waiting} end
return {avail, waiting}
