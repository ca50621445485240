-- A case-sensitive LIKE with a bound pattern (an ORM's contains()): only a trigram index serves
-- a leading wildcard.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, price numeric NOT NULL);
INSERT INTO products SELECT g, md5(g::text) || ' product ' || g, g % 100 FROM generate_series(1, 200000) g;
