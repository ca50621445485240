-- An exclusion constraint's GiST index (btree_gist) already serves equality on the room and the
-- overlap: a B-tree beside it saves a few percent.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE room_bookings (id bigint PRIMARY KEY, room_id int NOT NULL, during tstzrange NOT NULL,
  EXCLUDE USING gist (room_id WITH =, during WITH &&));
INSERT INTO room_bookings SELECT g, g % 500, tstzrange(now() + (g / 500) * interval '1 hour', now() + (g / 500) * interval '1 hour' + interval '30 minutes')
FROM generate_series(1, 100000) g;
