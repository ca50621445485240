package indexes_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	. "github.com/bookedbarber/pgtune/indexes"
)

// warmingCoster is a Warmer over the estimator that plans nothing ahead: it notes what each Warm
// asks for, so a test can see which of the selection's Cost calls were asked for ahead of time.
type warmingCoster struct {
	Coster
	sessions int
	warms    int
	// warmedAt: the Warm call (1, 2, ...) that first asked for a call; used: the calls made.
	warmedAt map[string]int
	used     map[string]bool
}

func costKey(config []*Candidate, hide []string, fp string) string {
	var parts []string
	for _, c := range config {
		parts = append(parts, c.Signature())
	}
	slices.Sort(parts)
	return fp + "|" + strings.Join(parts, ";") + "|" + strings.Join(hide, ";")
}

func (c *warmingCoster) Warm(_ context.Context, jobs []CostJob) {
	c.warms++
	for _, j := range jobs {
		if k := costKey(j.Config, j.Hide, j.Fingerprint); c.warmedAt[k] == 0 {
			c.warmedAt[k] = c.warms
		}
	}
}

func (c *warmingCoster) Sessions() int { return c.sessions }
func (c *warmingCoster) Release()      {}

func (c *warmingCoster) Cost(ctx context.Context, config []*Candidate, hide []string, fp, text string, params [][]string, tables []string) (Plan, error) {
	c.used[costKey(config, hide, fp)] = true
	return c.Coster.Cost(ctx, config, hide, fp, text, params, tables)
}

// With more than one planner session, the greedy rounds and the pruning ask the Warmer ahead for
// the calls they are about to make (the lazy greedy's next re-pricings, a prune round's prices
// with and without each chosen index), so the helpers plan them in parallel: most of what they
// ask for is then used, and the choice is the same as on one session.
func TestGreedyAndPruneWarmAhead(t *testing.T) {
	_, w, cat := demoWorkload(t)
	cands := Generate(w, cat)
	run := func(sessions int) (*Result, *warmingCoster) {
		t.Helper()
		wc := &warmingCoster{Coster: NewEstimator(w, cat), sessions: sessions, warmedAt: map[string]int{}, used: map[string]bool{}}
		res, err := Select(t.Context(), w, cat, cands, wc, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return res, wc
	}
	one, _ := run(1)
	two, wc := run(2)
	defs := func(r *Result) (out []string) {
		for _, p := range r.Proposals {
			out = append(out, p.Candidate.PlainDefinition())
		}
		return out
	}
	if !slices.Equal(defs(one), defs(two)) || one.FinalCost != two.FinalCost {
		t.Errorf("on one session: %q (final cost %.1f); on two: %q (%.1f)", defs(one), one.FinalCost, defs(two), two.FinalCost)
	}
	// Warm calls 1 and 2 are the first pass (the baseline, then each candidate on its own
	// statements); the later ones are the greedy's and the pruning's.
	ahead, aheadUsed, later := 0, 0, 0
	for k, at := range wc.warmedAt {
		if at > 2 {
			ahead++
			if wc.used[k] {
				aheadUsed++
			}
		}
	}
	for k := range wc.used {
		if wc.warmedAt[k] == 0 || wc.warmedAt[k] > 2 {
			later++
		}
	}
	t.Logf("%d Warm calls; after the first pass %d calls asked ahead, %d of them used; %d calls made after the first pass", wc.warms, ahead, aheadUsed, later)
	if wc.warms <= 2 || aheadUsed == 0 || aheadUsed*2 < ahead || aheadUsed*2 < later {
		t.Errorf("the greedy and the pruning asked ahead for %d calls (%d used) in %d Warm calls, of %d calls made after the first pass: want most of them asked ahead, and most of what was asked used", ahead, aheadUsed, wc.warms, later)
	}
}
