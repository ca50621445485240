-- The leading equality column is distinct in every row (no unique index says so, ANALYZE does):
-- the other equality column would add size, not selectivity.
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, tenant_id int NOT NULL, name text NOT NULL);
INSERT INTO users SELECT g, 'user' || g || '@example.com', g % 50, 'name ' || g FROM generate_series(1, 200000) g;
