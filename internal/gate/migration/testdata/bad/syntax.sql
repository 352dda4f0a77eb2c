-- error: syntax.sql:4:44: does not parse: syntax error at or near ";"
SET lock_timeout = '1s';
ALTER TABLE customers ADD COLUMN note text;
ALTER TABLE "clientèle" ADD COLUMN nickname;
