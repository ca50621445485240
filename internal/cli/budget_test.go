package cli

import (
	"math"
	"strings"
	"testing"
)

func TestParseBudget(t *testing.T) {
	cases := []struct {
		in           string
		bytes, share float64
		wantErr      bool
	}{
		{"", 0, 0, false},
		{"500MB", 500 << 20, 0, false},
		{" 2 gb ", 2 << 30, 0, false},
		{"1024", 1024, 0, false},
		{"1.5KB", 1536, 0, false},
		{"10%", 0, 0.10, false},
		{"10 %", 0, 0.10, false},
		{"0%", 0, 0, true},
		{"-5MB", 0, 0, true},
		{"NaN", 0, 0, true},
		{"InfGB", 0, 0, true},
		{"nan%", 0, 0, true},
		{"1e30TB", 0, 0, true},
		{"lots", 0, 0, true},
		{"5 parsecs", 0, 0, true},
	}
	for _, c := range cases {
		b, s, err := parseBudget(c.in)
		if (err != nil) != c.wantErr || b != c.bytes || s != c.share {
			t.Errorf("parseBudget(%q) = %v, %v, %v", c.in, b, s, err)
		}
		if err != nil && !strings.Contains(err.Error(), "500MB") && !strings.Contains(err.Error(), "10%") {
			t.Errorf("parseBudget(%q): the error does not show the form: %v", c.in, err)
		}
	}
}

// FuzzParseBudget: --budget is user input. Whatever it is, the result is an error or one finite,
// positive limit (or none for an empty flag).
func FuzzParseBudget(f *testing.F) {
	for _, s := range []string{"500MB", "10%", "1024", "NaN", "1e400", "2 GB", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, share, err := parseBudget(s)
		if err != nil {
			if b != 0 || share != 0 {
				t.Fatalf("%q: an error with a limit", s)
			}
			return
		}
		finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
		if !finite(b) || !finite(share) || (b > 0 && share > 0) || (strings.TrimSpace(s) != "" && b == 0 && share == 0) {
			t.Fatalf("%q: bytes %v share %v", s, b, share)
		}
	})
}
