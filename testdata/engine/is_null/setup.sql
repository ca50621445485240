-- IS NULL on a column too often NULL for a partial index (30 %): a key column, after the equality.
CREATE TABLE jobs (id bigint PRIMARY KEY, queue int NOT NULL, processed_at timestamptz, created_at timestamptz NOT NULL, payload text NOT NULL);
INSERT INTO jobs SELECT g, g % 1000, CASE WHEN (g / 1000) % 10 < 3 THEN NULL ELSE now() END, now() - g * interval '1 second', repeat('x', 50) FROM generate_series(1, 200000) g;
