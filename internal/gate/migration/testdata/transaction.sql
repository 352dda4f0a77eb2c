-- migration_type: contract
-- A table created in this transaction is empty: indexing and constraining it blocks no one.
SET lock_timeout = '1s';
BEGIN;
CREATE TABLE emails (id bigint PRIMARY KEY, customer_id bigint, address text);
CREATE INDEX emails_address_idx ON emails (address);
ALTER TABLE emails ADD CONSTRAINT emails_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE emails ADD CONSTRAINT emails_address_key UNIQUE (address);
ALTER TABLE customers ADD CONSTRAINT customers_nick_check CHECK (nickname <> '') NOT VALID;
ALTER TABLE customers VALIDATE CONSTRAINT customers_nick_check; -- want constraint-missing-not-valid
COMMIT;
CREATE INDEX emails_customer_idx ON emails (customer_id);
CREATE INDEX customers_nick_idx ON customers (nickname); -- want require-concurrent-index-creation
