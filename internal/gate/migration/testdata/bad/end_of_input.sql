-- error: end_of_input.sql:3:27: does not parse: syntax error at end of input
SET lock_timeout = '1s';
CREATE TABLE customers (id
