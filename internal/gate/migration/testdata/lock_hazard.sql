-- migration_type: contract
-- Compatible with the previous version, but each statement may block the table.
SET lock_timeout = '1s';
ALTER TABLE customers ALTER COLUMN email SET NOT NULL; -- want adding-not-nullable-field
ALTER TABLE customers ADD COLUMN token uuid DEFAULT gen_random_uuid(); -- want adding-field-with-default
ALTER TABLE customers ADD COLUMN lucky float8 DEFAULT random(); -- want adding-field-with-default
ALTER TABLE customers ADD COLUMN full_name text GENERATED ALWAYS AS (first || ' ' || last) STORED; -- want adding-field-with-default
CREATE INDEX customers_email_idx ON customers (email); -- want require-concurrent-index-creation
DROP INDEX customers_email_idx; -- want require-concurrent-index-deletion
ALTER TABLE accounts ADD CONSTRAINT positive_balance CHECK (balance >= 0); -- want constraint-missing-not-valid
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id); -- want constraint-missing-not-valid adding-foreign-key-constraint
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id); -- want adding-foreign-key-constraint
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email); -- want constraint-missing-not-valid disallowed-unique-constraint
ALTER TABLE items ADD PRIMARY KEY (id); -- want constraint-missing-not-valid adding-serial-primary-key-field
