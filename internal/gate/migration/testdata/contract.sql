-- migration_type: contract
SET lock_timeout = '1s';
ALTER TABLE customers DROP COLUMN fax; -- want ban-drop-column
DROP TABLE IF EXISTS legacy_sessions; -- want ban-drop-table
ALTER TABLE customers RENAME COLUMN mail TO email; -- want renaming-column
ALTER TABLE clients RENAME TO customers; -- want renaming-table
ALTER TABLE customers ALTER COLUMN score TYPE bigint; -- want changing-column-type
ALTER TABLE customers ALTER COLUMN email DROP NOT NULL; -- want ban-drop-not-null
ALTER TABLE customers ADD COLUMN country text NOT NULL; -- want adding-required-field
TRUNCATE audit_scratch CASCADE; -- want ban-truncate-cascade
DROP DATABASE staging_copy; -- want ban-drop-database
