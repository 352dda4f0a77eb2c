-- error: unknown_rule.sql:3:1: bad belay:ignore comment: no rule "ban-drop-colum" (see `belay gate migrations --help` or docs/gates.md)
SET lock_timeout = '1s';
-- belay:ignore ban-drop-colum it is unused
ALTER TABLE customers DROP COLUMN fax;
