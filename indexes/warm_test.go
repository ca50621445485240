package indexes

import (
	"fmt"
	"testing"
)

// warmShares cuts a configuration's calls into parts so that every session has work: the
// baseline (one configuration holding every statement) kept one session busy while the others
// waited. Small groups stay whole (each part costs its session one build of the configuration),
// and every call is in exactly one share, in order.
func TestWarmShares(t *testing.T) {
	jobs := func(prefix string, n int) []CostJob {
		var out []CostJob
		for i := range n {
			out = append(out, CostJob{Fingerprint: fmt.Sprintf("%s%d", prefix, i)})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		groups   map[string][]CostJob
		order    []string
		sessions int
		want     []int // the sizes of the shares
	}{
		{"the baseline alone, two sessions", map[string][]CostJob{"": jobs("b", 53)}, []string{""}, 2, []int{7, 7, 7, 7, 7, 7, 7, 4}},
		{"the baseline alone, four sessions", map[string][]CostJob{"": jobs("b", 53)}, []string{""}, 4, []int{4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 1}},
		{"small groups stay whole", map[string][]CostJob{"a": jobs("a", 3), "b": jobs("b", 2), "c": jobs("c", 4)}, []string{"a", "b", "c"}, 2, []int{3, 2, 4}},
		{"one big group among small ones", map[string][]CostJob{"a": jobs("a", 2), "": jobs("b", 40)}, []string{"", "a"}, 2, []int{6, 6, 6, 6, 6, 6, 4, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			for _, g := range tc.groups {
				calls += len(g)
			}
			shares := warmShares(tc.groups, tc.order, calls, tc.sessions)
			var sizes []int
			var seen []string
			for _, s := range shares {
				sizes = append(sizes, len(s))
				for _, j := range s {
					seen = append(seen, j.Fingerprint)
				}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.want) {
				t.Errorf("shares of %v, want %v", sizes, tc.want)
			}
			var want []string
			for _, ck := range tc.order {
				for _, j := range tc.groups[ck] {
					want = append(want, j.Fingerprint)
				}
			}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("calls in the shares %v, want each once in order %v", seen, want)
			}
		})
	}
}
