-- migration_type: expand_only
-- SET NOT NULL proven by a validated CHECK (PostgreSQL 12+) scans nothing.
SET lock_timeout = '1s';
BEGIN;
ALTER TABLE customers ADD COLUMN region text;
ALTER TABLE customers ADD CONSTRAINT region_not_null CHECK (region IS NOT NULL) NOT VALID;
COMMIT;
UPDATE customers SET region = 'eu' WHERE region IS NULL;
BEGIN;
ALTER TABLE customers VALIDATE CONSTRAINT region_not_null;
ALTER TABLE customers ALTER COLUMN region SET NOT NULL;
ALTER TABLE customers DROP CONSTRAINT region_not_null;
COMMIT;
