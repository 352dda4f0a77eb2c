-- error: unterminated.sql:3:45: does not parse: unterminated quoted string at or near "'hello;\n"
SET lock_timeout = '1s';
UPDATE customers SET greeting = 'hi', bye = 'hello;
