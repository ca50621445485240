package maintenance

import (
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	plan := &Plan{Actions: []Action{
		{Table: "a", Estimate: 40 * time.Minute},
		{Table: "b", Estimate: 30 * time.Minute},
		{Table: "c", Estimate: 20 * time.Minute, NotPermitted: "GRANT MAINTAIN"},
		{Table: "d", Estimate: 50 * time.Minute},
		{Table: "e", Estimate: 10 * time.Minute},
	}}
	type slot struct {
		job        int
		start, end time.Duration
		fits       bool
	}
	m := time.Minute
	for _, tc := range []struct {
		name   string
		jobs   int
		window time.Duration
		want   []slot
	}{
		{"one job, no window: one after another, the skipped one takes no time", 1, 0,
			[]slot{{0, 0, 40 * m, true}, {0, 40 * m, 70 * m, true}, {0, 70 * m, 70 * m, false}, {0, 70 * m, 120 * m, true}, {0, 120 * m, 130 * m, true}}},
		{"two jobs: each action on the first job free", 2, 0,
			[]slot{{0, 0, 40 * m, true}, {1, 0, 30 * m, true}, {1, 30 * m, 30 * m, false}, {1, 30 * m, 80 * m, true}, {0, 40 * m, 50 * m, true}}},
		{"a window: what would not finish does not start, and the job stays free for the next", 1, 75 * m,
			[]slot{{0, 0, 40 * m, true}, {0, 40 * m, 70 * m, true}, {0, 70 * m, 70 * m, false}, {0, 70 * m, 120 * m, false}, {0, 70 * m, 80 * m, false}}},
		{"a window two jobs fill", 2, 60 * m,
			[]slot{{0, 0, 40 * m, true}, {1, 0, 30 * m, true}, {1, 30 * m, 30 * m, false}, {1, 30 * m, 80 * m, false}, {1, 30 * m, 40 * m, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Timeline(plan, tc.jobs, tc.window)
			if len(got) != len(tc.want) {
				t.Fatalf("%d slots, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Job != w.job || g.Start != w.start || g.End != w.end || g.Fits != w.fits || g.Action != i || g.Table != plan.Actions[i].Table {
					t.Errorf("slot %d (%s): job %d %v–%v fits %v; want job %d %v–%v fits %v", i, g.Table, g.Job, g.Start, g.End, g.Fits, w.job, w.start, w.end, w.fits)
				}
			}
			if got[2].Skipped != "GRANT MAINTAIN" {
				t.Errorf("the table the role may not maintain: %+v", got[2])
			}
		})
	}
}
