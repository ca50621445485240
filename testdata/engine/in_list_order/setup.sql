-- A page of a barber's appointments: equality, an IN list bound as parameters, a range, ORDER BY
-- ... DESC LIMIT. The IN list must not lead the sort.
CREATE TABLE appts (id bigint PRIMARY KEY, barber_id int NOT NULL, status text NOT NULL, start_time timestamptz NOT NULL, notes text);
INSERT INTO appts SELECT g, g % 200, (ARRAY['completed','completed','completed','cancelled','confirmed','pending'])[1 + g % 6],
  now() - (200000 - g) * interval '5 minutes', NULL FROM generate_series(1, 200000) g;
