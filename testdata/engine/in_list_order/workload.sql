-- calls: 500
-- args: [42, "confirmed", "pending", "2020-01-01"]
SELECT id, start_time, status FROM appts WHERE barber_id = $1 AND status IN ($2, $3) AND start_time >= $4
ORDER BY start_time DESC LIMIT 50;
