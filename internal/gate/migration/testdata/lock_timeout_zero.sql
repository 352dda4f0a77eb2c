-- migration_type: contract
-- lock_timeout = 0 means no timeout at all.
SET lock_timeout = 0;
COMMENT ON TABLE customers IS 'people who buy'; -- want require-lock-timeout
