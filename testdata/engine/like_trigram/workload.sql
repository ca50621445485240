-- calls: 300
-- args: ["%abc12%"]
SELECT id, name FROM products WHERE name LIKE $1;
