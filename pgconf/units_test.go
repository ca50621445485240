package pgconf

import (
	"errors"
	"testing"
	"time"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"16GB", 16 * GB, false},
		{"16gb", 16 * GB, false},
		{"16Gi", 16 * GB, false},
		{"16GiB", 16 * GB, false},
		{"16 GB", 16 * GB, false},
		{"512MB", 512 * MB, false},
		{"5632Mi", 5632 * MB, false},
		{"1.5TB", 3 * TB / 2, false},
		{"8589934592B", 8 * GB, false},
		{"64kB", 64 * KB, false},
		{"16", 0, true},
		{"", 0, true},
		{"GB", 0, true},
		{"16XB", 0, true},
		{"1.2.3GB", 0, true},
		{"-1GB", 0, true},
		{"99999999999999TB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if _, err := ParseBytes("16"); !errors.Is(err, ErrNoUnit) {
		t.Errorf("a bare number: got %v, want ErrNoUnit", err)
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{4 * GB, "4GB"}, {1536 * MB, "1536MB"}, {20560 * KB, "20560kB"}, {2 * TB, "2TB"}, {64 * KB, "64kB"}, {1500, "1kB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if b, err := ParseBytes(FormatBytes(tt.in)); err != nil || b != tt.in/KB*KB {
			t.Errorf("ParseBytes(FormatBytes(%d)) = %d, %v: not lossless to the kilobyte", tt.in, b, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{15 * time.Minute, "15min"}, {10 * time.Second, "10s"}, {500 * time.Millisecond, "500ms"},
		{time.Hour, "1h"}, {24 * time.Hour, "1d"}, {90 * time.Second, "90s"}, {0, "0ms"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNiceBytes(t *testing.T) {
	tests := []struct{ in, want int64 }{
		{9603 * KB, 9 * MB},            // whole megabytes from 8MB
		{4619*KB + 100, 4619 * KB},     // kilobytes below
		{16*GB + 100*MB, 16 * GB},      // whole gigabytes when that loses under 2 %
		{9*GB + 512*MB, 9*GB + 512*MB}, // not when it loses more
		{100, KB},                      // never below a kilobyte
	}
	for _, tt := range tests {
		if got := niceBytes(tt.in); got != tt.want {
			t.Errorf("niceBytes(%d) = %s, want %s", tt.in, FormatBytes(got), FormatBytes(tt.want))
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"16GB", "5632Mi", "1.5TB", "16", "", "1e309GB", "0.0000001kB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseBytes(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("ParseBytes(%q) = %d: negative", s, b)
		}
	})
}
