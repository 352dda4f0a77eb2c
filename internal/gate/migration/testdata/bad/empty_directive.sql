-- error: empty_directive.sql:3:3: bad belay:ignore comment: name the rules to ignore, e.g. -- belay:ignore ban-drop-column
SET lock_timeout = '1s';
  /* belay:ignore */
ALTER TABLE customers DROP COLUMN fax;
