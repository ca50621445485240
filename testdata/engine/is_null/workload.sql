-- calls: 300
-- args: [3]
SELECT count(*) FROM jobs WHERE queue = $1 AND processed_at IS NULL;
