DROP INDEX appointments_barber_idx;
