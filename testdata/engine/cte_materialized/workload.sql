-- calls: 300
-- args: [42]
WITH c AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1;
