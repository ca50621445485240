-- calls: 300
-- args: [42]
SELECT id, created_at, total FROM active_orders WHERE customer_id = $1;
