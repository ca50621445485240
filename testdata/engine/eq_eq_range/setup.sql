-- Equality, equality, and a range on a third column (a payout period).
CREATE TABLE payments (id bigint PRIMARY KEY, barber_id int NOT NULL, status text NOT NULL, paid_at timestamptz NOT NULL, amount int NOT NULL);
INSERT INTO payments SELECT g, g % 300, CASE WHEN g % 10 = 0 THEN 'refunded' ELSE 'succeeded' END,
  now() - (200000 - g) * interval '3 minutes', g % 9000 FROM generate_series(1, 200000) g;
