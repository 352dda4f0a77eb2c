-- migration_type: expand_only
-- The second step of NOT VALID … VALIDATE, in its own file and transaction.
SET lock_timeout = '2s';
ALTER TABLE customers VALIDATE CONSTRAINT nickname_short;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk;
