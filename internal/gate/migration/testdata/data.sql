-- migration_type: expand_only
-- A whole-table UPDATE is a warning: its cost depends on the data.
SET lock_timeout = '1s';
ALTER TABLE customers ADD COLUMN score integer;
UPDATE customers SET score = 0; -- want unbatched-data-change
DELETE FROM sessions; -- want unbatched-data-change
