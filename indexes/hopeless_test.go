package indexes_test

import (
	"context"
	"slices"
	"testing"

	. "github.com/bookedbarber/pgtune/indexes"
)

// countingCoster counts the Cost calls that price a configuration holding each candidate.
type countingCoster struct {
	Coster
	calls int
	with  map[string]int // candidate signature → Cost calls with it in the configuration
}

func (c *countingCoster) Cost(ctx context.Context, config []*Candidate, hide []string, fp, text string, params [][]string, tables []string) (Plan, error) {
	c.calls++
	for _, x := range config {
		c.with[x.Signature()]++
	}
	return c.Coster.Cost(ctx, config, hide, fp, text, params, tables)
}

// The bound on hopeless candidates (their statements' whole cost and time below the bars, none
// frequent) changes no choice and no cost, and spares the planner: on the demo workload some
// candidates are never priced at all.
func TestHopelessCandidatesAreNeverPriced(t *testing.T) {
	_, w, cat := demoWorkload(t)
	cands := Generate(w, cat)
	run := func() (*Result, *countingCoster) {
		t.Helper()
		cc := &countingCoster{Coster: NewEstimator(w, cat), with: map[string]int{}}
		res, err := Select(t.Context(), w, cat, cands, cc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res, cc
	}
	bounded, withBound := run()
	var unbounded *Result
	var withoutBound *countingCoster
	WithoutHopelessBound(func() { unbounded, withoutBound = run() })

	defs := func(r *Result) (out []string) {
		for _, p := range r.Proposals {
			out = append(out, p.Candidate.PlainDefinition())
		}
		return out
	}
	if !slices.Equal(defs(bounded), defs(unbounded)) || bounded.FinalCost != unbounded.FinalCost || bounded.BaseCost != unbounded.BaseCost {
		t.Errorf("with the bound: %q (final cost %.1f); without: %q (%.1f)", defs(bounded), bounded.FinalCost, defs(unbounded), unbounded.FinalCost)
	}
	never := 0
	for _, c := range cands {
		if withBound.with[c.Signature()] == 0 && withoutBound.with[c.Signature()] > 0 {
			never++
		}
	}
	if never == 0 || withBound.calls >= withoutBound.calls {
		t.Errorf("the bound spared nothing: %d Cost calls with it, %d without; %d candidates never priced", withBound.calls, withoutBound.calls, never)
	}
	t.Logf("%d of %d candidates never priced; %d Cost calls with the bound, %d without", never, len(cands), withBound.calls, withoutBound.calls)
}
