-- calls: 300
-- args: [42, "succeeded", "2026-01-01", "2026-01-15"]
SELECT count(*), sum(amount) FROM payments WHERE barber_id = $1 AND status = $2 AND paid_at >= $3 AND paid_at < $4;
