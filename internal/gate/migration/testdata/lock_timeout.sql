-- migration_type: contract
-- require-lock-timeout is reported once, at the first statement that takes a lock before lock_timeout is set.
CREATE TABLE notes (id bigint PRIMARY KEY, body text);
UPDATE customers SET vip = false WHERE vip IS NULL;
ALTER TABLE customers ADD COLUMN note_id bigint; -- want require-lock-timeout
ALTER TABLE customers ADD COLUMN note2_id bigint;
SET lock_timeout = '1s';
ALTER TABLE customers ADD COLUMN note3_id bigint;
