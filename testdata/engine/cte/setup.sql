-- CTEs PostgreSQL 12+ inlines (plain and NOT MATERIALIZED): conditions reach the base table.
-- 400 orders per customer: the sort matters.
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL, total numeric NOT NULL);
INSERT INTO orders SELECT g, g % 500, CASE WHEN g % 50 = 0 THEN 'void' ELSE 'paid' END, now() - g * interval '1 minute', g % 500 FROM generate_series(1, 200000) g;
