package pgconf

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Binary units, the way PostgreSQL reads them: 1kB = 1024 bytes.
const (
	KB int64 = 1 << 10
	MB int64 = 1 << 20
	GB int64 = 1 << 30
	TB int64 = 1 << 40
)

// unitSizes maps every memory suffix ParseBytes accepts, lower-cased, to its size. PostgreSQL's own
// spellings (kB, MB, GB, TB), Kubernetes' (Ki, Mi, Gi, Ti) and the usual shorthands are all binary:
// a DBA writing 16GB and a manifest writing 16Gi mean the same machine.
var unitSizes = map[string]int64{
	"b": 1,
	"k": KB, "kb": KB, "ki": KB, "kib": KB,
	"m": MB, "mb": MB, "mi": MB, "mib": MB,
	"g": GB, "gb": GB, "gi": GB, "gib": GB,
	"t": TB, "tb": TB, "ti": TB, "tib": TB,
}

// ErrNoUnit means a size was given as a bare number, which is ambiguous (16 could be gigabytes or
// bytes); the caller's message names the expected form.
var ErrNoUnit = errors.New("a size needs a unit")

// ParseBytes reads a size such as 16GB, 512MB, 1.5TB, 16Gi or 8589934592B. A bare number is
// refused with ErrNoUnit.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	if unit == "" {
		return 0, ErrNoUnit
	}
	size, ok := unitSizes[unit]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q (use kB, MB, GB or TB)", s, t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	v := f * float64(size)
	if v >= math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}

// FormatBytes renders a size the way postgresql.conf reads it, in the largest unit that loses
// nothing: 4GB, 1536MB, 20560kB. Values that are not whole kilobytes are rounded down to one.
func FormatBytes(b int64) string {
	switch {
	case b >= TB && b%TB == 0:
		return fmt.Sprintf("%dTB", b/TB)
	case b >= GB && b%GB == 0:
		return fmt.Sprintf("%dGB", b/GB)
	case b >= MB && b%MB == 0:
		return fmt.Sprintf("%dMB", b/MB)
	}
	return fmt.Sprintf("%dkB", b/KB)
}

// HumanBytes renders a size for people (one decimal where it matters): 3.9 GB, 512 MB.
func HumanBytes(b int64) string {
	switch {
	case b >= TB:
		return trimFloat(float64(b)/float64(TB)) + " TB"
	case b >= GB:
		return trimFloat(float64(b)/float64(GB)) + " GB"
	case b >= MB:
		return trimFloat(float64(b)/float64(MB)) + " MB"
	}
	return trimFloat(float64(b)/float64(KB)) + " kB"
}

func trimFloat(f float64) string {
	if f >= 100 || f == math.Trunc(f) {
		return strconv.FormatFloat(math.Round(f), 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

// FormatDuration renders a duration in postgresql.conf's units, in the largest that loses
// nothing: 15min, 10s, 500ms, 1h, 1d.
func FormatDuration(d time.Duration) string {
	ms := d.Milliseconds()
	switch {
	case ms != 0 && ms%(24*3600*1000) == 0:
		return fmt.Sprintf("%dd", ms/(24*3600*1000))
	case ms != 0 && ms%(3600*1000) == 0:
		return fmt.Sprintf("%dh", ms/(3600*1000))
	case ms != 0 && ms%(60*1000) == 0:
		return fmt.Sprintf("%dmin", ms/(60*1000))
	case ms != 0 && ms%1000 == 0:
		return fmt.Sprintf("%ds", ms/1000)
	}
	return fmt.Sprintf("%dms", ms)
}

// niceBytes rounds a computed memory size down to a value a DBA would write: whole megabytes
// from 8MB up, whole gigabytes from 8GB up when that loses under 2 %, else whole kilobytes.
func niceBytes(b int64) int64 {
	switch {
	case b >= 8*GB && b%GB < b/50:
		return b / GB * GB
	case b >= 8*MB:
		return b / MB * MB
	case b >= KB:
		return b / KB * KB
	}
	return KB
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
