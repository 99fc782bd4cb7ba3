-- A waitlist entry stopped waiting (served in full, left, cancelled). Idempotent.
-- KEYS[1] gate hash; ARGV[1] the entry's gate key. Returns 1 if a mark was removed.
if remove_mark(KEYS[1], ARGV[1]) then return 1 end
return 0
