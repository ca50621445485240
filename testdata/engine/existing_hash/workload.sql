-- calls: 300
-- args: [42]
SELECT id, total FROM orders WHERE customer_id = $1;
