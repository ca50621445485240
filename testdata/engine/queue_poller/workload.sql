-- calls: 1000
-- args: ["pending", "5 minutes", 5, 50]
SELECT id, payload FROM tasks WHERE status = $1 AND run_at <= now() + $2::interval AND attempts < $3 ORDER BY run_at LIMIT $4;
