package pitr

import "testing"

func TestParseTimeForms(t *testing.T) {
	for _, s := range []string{"2026-11-27 03:00:00+00", "2026-11-27 03:00:00.123+00", "2026-11-27 03:00:00+01:00", "2026-11-27T03:00:00Z", "2026-11-27 03:00:00 UTC"} {
		if _, err := ParseTime(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"yesterday", "2026-11-27 03:00:00"} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("%q accepted without a zone", s)
		}
	}
}
