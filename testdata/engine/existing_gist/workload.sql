-- calls: 300
-- args: [42, "[2026-12-01 10:00+00,2026-12-01 11:00+00)"]
SELECT id FROM room_bookings WHERE room_id = $1 AND during && $2::tstzrange;

-- calls: 300
-- args: [42]
SELECT count(*) FROM room_bookings WHERE room_id = $1;
