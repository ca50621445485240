-- A queue poller as an ORM sends it: every value bound. Equality on a skewed low-cardinality
-- status (the poller asks for the 3 % 'pending'), a range against now() + interval, a second
-- inequality, ORDER BY the timestamp, LIMIT.
CREATE TABLE tasks (id bigint PRIMARY KEY, status text NOT NULL, run_at timestamptz NOT NULL, attempts int NOT NULL, payload text NOT NULL);
INSERT INTO tasks SELECT g, CASE WHEN g % 100 < 3 THEN 'pending' WHEN g % 100 < 5 THEN 'failed' ELSE 'done' END,
  now() - (200000 - g) * interval '1 minute', g % 4, repeat('p', 40) FROM generate_series(1, 200000) g;
