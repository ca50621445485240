package query

import "testing"

// hasTypedParameter is the regexp's answer, without the regexp.
func FuzzHasTypedParameter(f *testing.F) {
	for _, s := range []string{"SELECT now() - interval $1", "SELECT $1", "WHERE t > timestamptz\n$2", "x::interval $1", "INTERVAL $1",
		"myinterval $1", "interval$1", "éinterval $1", "date  $12", "SELECT 'interval' || $1", "_int4 $1", "int4 $x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasTypedParameter(s), typedParameter.MatchString(s); got != want {
			t.Errorf("%q: %v, the regexp says %v", s, got, want)
		}
	})
}
