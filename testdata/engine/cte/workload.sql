-- calls: 300
-- args: [42]
WITH recent AS (SELECT id, customer_id, created_at FROM orders)
SELECT id FROM recent WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 10;

-- calls: 300
-- args: [250]
WITH t AS NOT MATERIALIZED (SELECT * FROM orders) SELECT count(*) FROM t WHERE total = $1;
