package pgconf

import "time"

func (p *plan) observabilitySettings() {
	in := p.in
	preload, why := "pg_stat_statements", "statement statistics pgtune advise reads; keep any library you already preload in the list"
	if p.live != nil {
		if live, ok := p.live.row("shared_preload_libraries"); ok {
			preload, why = preloadWith(live.Setting), "the server's libraries, with pg_stat_statements for the statement statistics pgtune advise reads"
		}
	}
	p.set("observability", "shared_preload_libraries", preload, why)
	p.setInt("observability", "pg_stat_statements.max", 10000, "room for every distinct statement of a busy app without evictions")
	p.setBytes("observability", "track_activity_query_size", 4*KB, "whole statement texts in pg_stat_activity (1kB cuts most ORM queries), which pgtune samples for constants")
	p.set("observability", "track_io_timing", "on", "I/O time per statement and table; cheap on modern clocks (check with pg_test_timing)")
	slow := map[Profile]time.Duration{ProfileWeb: time.Second, ProfileOLTP: 500 * time.Millisecond, ProfileMixed: 2 * time.Second, ProfileDW: 10 * time.Second}
	if d, ok := slow[in.Profile]; ok {
		p.set("observability", "log_min_duration_statement", FormatDuration(d), "log statements slower than this for a "+string(in.Profile)+" workload")
	}
	p.set("observability", "log_autovacuum_min_duration", FormatDuration(10*time.Second), "log autovacuum runs over 10 s: which tables vacuum struggles with")
	p.set("observability", "log_checkpoints", "on", "checkpoint frequency and duration: evidence for max_wal_size")
	p.set("observability", "log_lock_waits", "on", "log waits longer than deadlock_timeout (1 s): evidence of lock contention")
	p.setBytes("observability", "log_temp_files", 10*MB, "log temporary files over 10MB: evidence that work_mem is too small for a query")
}
