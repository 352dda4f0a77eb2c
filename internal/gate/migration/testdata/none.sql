-- migration_type: none
-- Nothing that changes anything.
SET lock_timeout = '1s';
BEGIN;
SELECT 1;
COMMIT;
