package maintenance

import "time"

// Slot is where a run would put one action of a plan, by the estimates: its job (one of the
// run's --jobs sessions) and its start and end, counted from the run's start.
type Slot struct {
	// Action is the action's index in Plan.Actions.
	Action int    `json:"action"`
	Table  string `json:"table"`
	Job    int    `json:"job"`
	// Jobs is the number of jobs the slots were laid out for.
	Jobs  int           `json:"-"`
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	// Fits is false when less than the action's estimate would be left in the window at its
	// start: a run does not start it (End is then where it would have ended).
	Fits bool `json:"fits"`
	// Skipped is why a run skips the action whatever the window (a table the role may not
	// maintain).
	Skipped string `json:"skipped,omitempty"`
}

// Length is the slot's estimated duration.
func (s Slot) Length() time.Duration { return s.End - s.Start }

// Timeline lays a plan out as Run works through it: the actions in the plan's order (wraparound
// first), each on the first job to come free, and one not started when the window (0: no end)
// has less than its estimate left; a skipped action takes no time.
func Timeline(plan *Plan, jobs int, window time.Duration) []Slot {
	jobs = max(jobs, 1)
	free := make([]time.Duration, jobs)
	slots := make([]Slot, 0, len(plan.Actions))
	for i, a := range plan.Actions {
		job := 0
		for j := range free {
			if free[j] < free[job] {
				job = j
			}
		}
		s := Slot{Action: i, Table: a.Table, Job: job, Jobs: jobs, Start: free[job], End: free[job] + a.Estimate, Fits: true}
		switch {
		case a.NotPermitted != "":
			s.Skipped, s.End, s.Fits = a.NotPermitted, s.Start, false
		case window > 0 && window-s.Start < a.Estimate:
			s.Fits = false
		default:
			free[job] = s.End
		}
		slots = append(slots, s)
	}
	return slots
}
