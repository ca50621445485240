-- calls: 300
-- args: ["user4242@example.com", 42]
SELECT id, name FROM users WHERE email = $1 AND tenant_id = $2;
