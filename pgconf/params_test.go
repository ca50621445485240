package pgconf

import (
	"math"
	"slices"
	"testing"
)

func TestParamCheck(t *testing.T) {
	tests := []struct {
		name, value string
		major       int
		ok          bool
	}{
		{"work_mem", "4MB", 15, true},
		{"work_mem", "32kB", 15, false}, // below 64kB
		{"wal_compression", "lz4", 15, true},
		{"wal_compression", "lz4", 14, false}, // a boolean before 15
		{"wal_compression", "on", 13, true},
		{"io_method", "worker", 18, true},
		{"io_method", "worker", 17, false}, // 18 only
		{"io_workers", "33", 18, false},
		{"effective_io_concurrency", "1000", 16, true},
		{"effective_io_concurrency", "1001", 16, false},
		{"checkpoint_timeout", "15min", 13, true},
		{"checkpoint_timeout", "2d", 13, false},
		{"autovacuum_work_mem", "-1", 16, true},
		{"checkpoint_completion_target", "1.5", 16, false},
		{"max_wal_size", "16MB", 16, false}, // under two segments
		{"track_activity_query_size", "4kB", 15, true},
		{"track_activity_query_size", "2MB", 15, false},
	}
	for _, tt := range tests {
		p, ok := Lookup(tt.name)
		if !ok {
			t.Fatalf("Lookup(%q): unknown", tt.name)
		}
		err := p.Check(tt.value, tt.major)
		if (err == nil) != tt.ok {
			t.Errorf("%s = %s on %d: error %v, want ok=%v", tt.name, tt.value, tt.major, err, tt.ok)
		}
	}
}

func TestParamParseValue(t *testing.T) {
	tests := []struct {
		name, value, unit string
		want              float64
	}{
		{"shared_buffers", "524288", "8kB", float64(4 * GB)},
		{"shared_buffers", "4GB", "", float64(4 * GB)},
		{"work_mem", "4096", "kB", float64(4 * MB)},
		{"max_wal_size", "1024", "MB", float64(GB)},
		{"checkpoint_timeout", "900", "s", 900e3},
		{"checkpoint_timeout", "15min", "", 900e3},
		{"log_min_duration_statement", "-1", "ms", -1},
		{"jit", "off", "", 0},
		{"track_io_timing", "on", "", 1},
		{"random_page_cost", "1.1", "", 1.1},
	}
	for _, tt := range tests {
		p, _ := Lookup(tt.name)
		got, err := p.ParseValue(tt.value, tt.unit)
		if err != nil || math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s ParseValue(%q, %q) = %v, %v; want %v", tt.name, tt.value, tt.unit, got, err, tt.want)
		}
	}
}

// Parameters PostgreSQL removed in 13–18 must never be in the table pgtune renders from.
func TestNoRemovedParameters(t *testing.T) {
	removed := []string{"vacuum_defer_cleanup_age", "promote_trigger_file", "old_snapshot_threshold",
		"db_user_namespace", "trace_recovery_messages", "stats_temp_directory", "operator_precedence_warning",
		"wal_keep_segments", "checkpoint_segments", "replacement_sort_tuples", "min_parallel_relation_size"}
	for _, name := range removed {
		if _, ok := params[name]; ok {
			t.Errorf("%s was removed from PostgreSQL and must not be rendered", name)
		}
	}
}

// FuzzParseValue: values from pg_settings and from users never panic the parser, and whatever
// Check accepts for a memory or time setting parses to a number within the bounds.
func FuzzParseValue(f *testing.F) {
	for _, s := range [][2]string{{"4GB", ""}, {"524288", "8kB"}, {"15min", ""}, {"-1", "ms"}, {"1e308", "MB"}, {"on", ""}, {"0.9", ""}, {"lz4", ""}} {
		f.Add(s[0], s[1])
	}
	names := []string{"shared_buffers", "checkpoint_timeout", "work_mem", "jit", "wal_compression", "random_page_cost", "max_connections"}
	f.Fuzz(func(t *testing.T, value, unit string) {
		for _, name := range names {
			p, _ := Lookup(name)
			_, _ = p.ParseValue(value, unit)
			if err := p.Check(value, 16); err == nil && (p.Kind == KindBytes || p.Kind == KindDuration) {
				n, err := p.ParseValue(value, "")
				if err != nil || math.IsNaN(n) || (n < p.Min || n > p.Max) && !slices.Contains(p.Special, n) {
					t.Fatalf("%s: Check accepted %q but it reads as %v, %v", name, value, n, err)
				}
			}
		}
	})
}
