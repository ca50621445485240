CREATE INDEX appointments_barber_idx ON appointments (barber_id, start_time);
