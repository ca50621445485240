package pgconf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is how a parameter's value is written and compared.
type Kind string

// Parameter kinds.
const (
	KindBytes    Kind = "bytes"    // 4GB, 20560kB
	KindDuration Kind = "duration" // 15min, 500ms
	KindInt      Kind = "int"
	KindReal     Kind = "real"
	KindBool     Kind = "bool"
	KindEnum     Kind = "enum"
	KindString   Kind = "string"
)

// Param is what pgtune knows of one server parameter: the versions that have it, its bounds and
// what a change takes. Every setting pgtune renders is checked against this table, so a value a
// server would refuse (out of range, removed in that version, unknown) is never emitted.
type Param struct {
	Name string
	Kind Kind
	// Since and Until bound the majors that have the parameter: Since ≤ major < Until (Until 0:
	// still present).
	Since, Until int
	// Min and Max bound numeric values, in bytes for KindBytes, milliseconds for KindDuration.
	// Special values (-1 = automatic/disabled) are listed in Special.
	Min, Max float64
	Special  []float64
	// Enum lists the accepted values of KindEnum (per version where they differ: see enumValues).
	Enum []string
	// RestartUntil: changing it needs a server restart in majors below this one (0: never;
	// 99: always). autovacuum_max_workers, for one, only needs a reload from 18 on.
	RestartUntil int
}

// intMax is PostgreSQL's INT_MAX, the ceiling of most integer parameters.
const intMax = math.MaxInt32

// params lists every parameter pgtune may emit. Bounds are PostgreSQL's own (guc_tables.c); a
// test keeps pgtune's output inside them over a wide grid of instances.
var params = map[string]Param{
	"max_connections":                       {Kind: KindInt, Since: 13, Min: 1, Max: 262143, RestartUntil: 99},
	"password_encryption":                   {Kind: KindEnum, Since: 13, Enum: []string{"md5", "scram-sha-256"}},
	"shared_buffers":                        {Kind: KindBytes, Since: 13, Min: 128 * float64(KB), Max: float64(intMax/2) * 8 * float64(KB), RestartUntil: 99},
	"huge_pages":                            {Kind: KindEnum, Since: 13, Enum: []string{"off", "on", "try"}, RestartUntil: 99},
	"effective_cache_size":                  {Kind: KindBytes, Since: 13, Min: 8 * float64(KB), Max: float64(intMax) * 8 * float64(KB)},
	"work_mem":                              {Kind: KindBytes, Since: 13, Min: 64 * float64(KB), Max: float64(intMax) * float64(KB)},
	"hash_mem_multiplier":                   {Kind: KindReal, Since: 13, Min: 1, Max: 1000},
	"maintenance_work_mem":                  {Kind: KindBytes, Since: 13, Min: float64(MB), Max: float64(intMax) * float64(KB)},
	"autovacuum_work_mem":                   {Kind: KindBytes, Since: 13, Min: float64(MB), Max: float64(intMax) * float64(KB), Special: []float64{-1}},
	"wal_buffers":                           {Kind: KindBytes, Since: 13, Min: 64 * float64(KB), Max: float64(intMax) * 8 * float64(KB), Special: []float64{-1}, RestartUntil: 99},
	"min_wal_size":                          {Kind: KindBytes, Since: 13, Min: 32 * float64(MB), Max: float64(intMax) * float64(MB)},
	"max_wal_size":                          {Kind: KindBytes, Since: 13, Min: 32 * float64(MB), Max: float64(intMax) * float64(MB)},
	"checkpoint_timeout":                    {Kind: KindDuration, Since: 13, Min: 30e3, Max: 86400e3},
	"checkpoint_completion_target":          {Kind: KindReal, Since: 13, Min: 0, Max: 1},
	"wal_compression":                       {Kind: KindEnum, Since: 13, Enum: []string{"off", "on", "pglz", "lz4", "zstd"}},
	"random_page_cost":                      {Kind: KindReal, Since: 13, Min: 0, Max: math.MaxFloat64},
	"effective_io_concurrency":              {Kind: KindInt, Since: 13, Min: 0, Max: 1000},
	"maintenance_io_concurrency":            {Kind: KindInt, Since: 13, Min: 0, Max: 1000},
	"default_statistics_target":             {Kind: KindInt, Since: 13, Min: 1, Max: 10000},
	"jit":                                   {Kind: KindBool, Since: 13},
	"io_method":                             {Kind: KindEnum, Since: 18, Enum: []string{"sync", "worker", "io_uring"}, RestartUntil: 99},
	"io_workers":                            {Kind: KindInt, Since: 18, Min: 1, Max: 32},
	"max_worker_processes":                  {Kind: KindInt, Since: 13, Min: 0, Max: 262143, RestartUntil: 99},
	"max_parallel_workers":                  {Kind: KindInt, Since: 13, Min: 0, Max: 1024},
	"max_parallel_workers_per_gather":       {Kind: KindInt, Since: 13, Min: 0, Max: 1024},
	"max_parallel_maintenance_workers":      {Kind: KindInt, Since: 13, Min: 0, Max: 1024},
	"autovacuum_max_workers":                {Kind: KindInt, Since: 13, Min: 1, Max: 262143, RestartUntil: 18},
	"autovacuum_worker_slots":               {Kind: KindInt, Since: 18, Min: 1, Max: 262143, RestartUntil: 99},
	"autovacuum_vacuum_cost_limit":          {Kind: KindInt, Since: 13, Min: 1, Max: 10000, Special: []float64{-1}},
	"autovacuum_vacuum_scale_factor":        {Kind: KindReal, Since: 13, Min: 0, Max: 100},
	"autovacuum_analyze_scale_factor":       {Kind: KindReal, Since: 13, Min: 0, Max: 100},
	"autovacuum_vacuum_insert_scale_factor": {Kind: KindReal, Since: 13, Min: 0, Max: 100},
	"autovacuum_vacuum_max_threshold":       {Kind: KindInt, Since: 18, Min: -1, Max: intMax},
	"shared_preload_libraries":              {Kind: KindString, Since: 13, RestartUntil: 99},
	"pg_stat_statements.max":                {Kind: KindInt, Since: 13, Min: 100, Max: intMax, RestartUntil: 99},
	"track_io_timing":                       {Kind: KindBool, Since: 13},
	"track_activity_query_size":             {Kind: KindBytes, Since: 13, Min: 100, Max: float64(MB), RestartUntil: 99},
	"log_min_duration_statement":            {Kind: KindDuration, Since: 13, Min: 0, Max: intMax, Special: []float64{-1}},
	"log_autovacuum_min_duration":           {Kind: KindDuration, Since: 13, Min: 0, Max: intMax, Special: []float64{-1}},
	"log_checkpoints":                       {Kind: KindBool, Since: 13},
	"log_lock_waits":                        {Kind: KindBool, Since: 13},
	"wal_level":                             {Kind: KindEnum, Since: 13, Enum: []string{"minimal", "replica", "logical"}, RestartUntil: 99},
	"max_wal_senders":                       {Kind: KindInt, Since: 13, Min: 0, Max: 262143, RestartUntil: 99},
	"max_replication_slots":                 {Kind: KindInt, Since: 13, Min: 0, Max: 262143, RestartUntil: 99},
	"max_slot_wal_keep_size":                {Kind: KindBytes, Since: 13, Min: 0, Max: float64(intMax) * float64(MB), Special: []float64{-1}},
	"wal_log_hints":                         {Kind: KindBool, Since: 13, RestartUntil: 99},
	"hot_standby":                           {Kind: KindBool, Since: 13, RestartUntil: 99},
	"hot_standby_feedback":                  {Kind: KindBool, Since: 13},
	"max_standby_streaming_delay":           {Kind: KindDuration, Since: 13, Min: 0, Max: intMax, Special: []float64{-1}},
	"max_standby_archive_delay":             {Kind: KindDuration, Since: 13, Min: 0, Max: intMax, Special: []float64{-1}},
	"log_temp_files":                        {Kind: KindBytes, Since: 13, Min: 0, Max: float64(intMax) * float64(KB), Special: []float64{-1}},
}

// enumValues are the values an enum parameter accepts in a major, where they differ by version.
func enumValues(name string, major int) []string {
	if name == "wal_compression" && major < 15 {
		return []string{"off", "on"} // a boolean before 15; lz4/zstd came with 15
	}
	return params[name].Enum
}

// Lookup returns what pgtune knows of a parameter.
func Lookup(name string) (Param, bool) {
	p, ok := params[name]
	p.Name = name
	return p, ok
}

// InVersion reports whether major has the parameter.
func (p Param) InVersion(major int) bool {
	return major >= p.Since && (p.Until == 0 || major < p.Until)
}

// NeedsRestart reports whether changing the parameter needs a server restart in major.
func (p Param) NeedsRestart(major int) bool { return major < p.RestartUntil }

// ParseValue reads a value of the parameter as postgresql.conf would (4GB, 15min, on, 0.9, or a
// bare number in unit, the way pg_settings reports it): bytes for memory, milliseconds for
// durations, 1/0 for booleans. Enums and strings return NaN with ok.
func (p Param) ParseValue(value, unit string) (float64, error) {
	v := strings.Trim(strings.TrimSpace(value), "'")
	switch p.Kind {
	case KindBool:
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			return 1, nil
		case "off", "false", "no", "0":
			return 0, nil
		}
		return 0, fmt.Errorf("%s: %q is not a boolean", p.Name, value)
	case KindEnum, KindString:
		return math.NaN(), nil
	case KindBytes:
		if n, err := parseFinite(v); err == nil {
			return n * float64(unitBytes(unit)), nil
		}
		b, err := ParseBytes(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Name, err)
		}
		return float64(b), nil
	case KindDuration:
		if n, err := parseFinite(v); err == nil {
			return n * float64(unitMillis(unit)), nil
		}
		d, err := parsePGDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.Name, err)
		}
		return float64(d.Milliseconds()), nil
	}
	n, err := parseFinite(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", p.Name, value)
	}
	return n, nil
}

// parseFinite reads a number, refusing NaN and infinities (which strconv accepts, and which no
// bound check can catch).
func parseFinite(v string) (float64, error) {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%q is not a finite number", v)
	}
	return n, nil
}

// unitBytes is the size of a pg_settings unit ("8kB", "kB", "MB", "B"); bytes when empty.
func unitBytes(unit string) int64 {
	switch unit {
	case "", "B":
		return 1
	case "8kB":
		return 8 * KB
	case "16MB":
		return 16 * MB
	}
	if b, err := ParseBytes("1" + unit); err == nil {
		return b
	}
	return 1
}

// unitMillis is the length of a pg_settings time unit ("ms", "s", "min"); milliseconds when empty.
func unitMillis(unit string) int64 {
	switch unit {
	case "s":
		return 1000
	case "min":
		return 60 * 1000
	case "h":
		return 3600 * 1000
	case "d":
		return 24 * 3600 * 1000
	}
	return 1
}

func parsePGDuration(v string) (time.Duration, error) {
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", v)
	}
	unit := strings.TrimSpace(v[i:])
	var per time.Duration
	switch unit {
	case "us":
		per = time.Microsecond
	case "ms", "":
		per = time.Millisecond
	case "s":
		per = time.Second
	case "min":
		per = time.Minute
	case "h":
		per = time.Hour
	case "d":
		per = 24 * time.Hour
	default:
		return 0, fmt.Errorf("%q has an unknown time unit %q", v, unit)
	}
	return time.Duration(n * float64(per)), nil
}

// Check reports why value is not acceptable for the parameter in major, or nil.
func (p Param) Check(value string, major int) error {
	if !p.InVersion(major) {
		return fmt.Errorf("%s does not exist in PostgreSQL %d", p.Name, major)
	}
	switch p.Kind {
	case KindEnum:
		for _, e := range enumValues(p.Name, major) {
			if strings.EqualFold(e, value) {
				return nil
			}
		}
		return fmt.Errorf("%s = %q: PostgreSQL %d accepts %s", p.Name, value, major, strings.Join(enumValues(p.Name, major), ", "))
	case KindString:
		return nil
	}
	n, err := p.ParseValue(value, "")
	if err != nil {
		return err
	}
	if p.Kind == KindBool {
		return nil
	}
	for _, s := range p.Special {
		if n == s {
			return nil
		}
	}
	if n < p.Min || n > p.Max {
		return fmt.Errorf("%s = %s is outside PostgreSQL's range [%g, %g]", p.Name, value, p.Min, p.Max)
	}
	return nil
}
