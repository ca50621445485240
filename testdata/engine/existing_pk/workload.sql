-- calls: 300
-- args: [42, 7]
SELECT amount FROM ledger WHERE account_id = $1 AND seq = $2;

-- calls: 300
-- args: [42]
SELECT sum(amount) FROM ledger WHERE account_id = $1;
