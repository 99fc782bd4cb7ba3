-- Add (or remove) sellable seats once per operation: a retried call is a no-op.
-- KEYS[1] gate hash; KEYS[2] the operation's marker key; ARGV[1] delta; ARGV[2] marker ttl seconds.
-- A missing gate is left missing: the next rebuild reads PostgreSQL, which already has the change.
-- Returns 1 if applied.
local gate = KEYS[1]
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', tonumber(ARGV[2]))
if redis.call('HEXISTS', gate, 'avail') == 0 then return 0 end
redis.call('HINCRBY', gate, 'avail', tonumber(ARGV[1]))
return 1
