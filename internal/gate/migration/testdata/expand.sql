-- migration_type: expand_only
-- Everything here keeps the previous version working and runs online.
SET lock_timeout = '2s';
SET statement_timeout = '30s';

CREATE TABLE invoices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL,
    total_cents bigint NOT NULL DEFAULT 0
);

ALTER TABLE customers ADD COLUMN nickname text;
ALTER TABLE customers ADD COLUMN vip boolean NOT NULL DEFAULT false;
ALTER TABLE customers ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE customers ADD COLUMN seen_at timestamptz DEFAULT current_timestamp;
ALTER TABLE customers ADD COLUMN tags text[] DEFAULT array[]::text[];
ALTER TABLE customers ADD COLUMN prefs jsonb DEFAULT '{}'::jsonb;
ALTER TABLE customers ADD COLUMN expires_at timestamptz DEFAULT now() + interval '30 days';

CREATE INDEX CONCURRENTLY customers_nickname_idx ON customers (nickname);
CREATE UNIQUE INDEX CONCURRENTLY customers_email_key_idx ON customers (email);
ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE USING INDEX customers_email_key_idx;

ALTER TABLE customers ADD CONSTRAINT nickname_short CHECK (length(nickname) < 64) NOT VALID;
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
DROP INDEX CONCURRENTLY IF EXISTS customers_old_idx;
UPDATE customers SET vip = true WHERE id IN (1, 2, 3);
SELECT 1;
