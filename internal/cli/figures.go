package cli

// The charts of the HTML reports (--format html): each is built from the same numbers as the
// table it is drawn above, so the other formats lose nothing by leaving it out.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/maintenance"
	"github.com/bookedbarber/pgtune/maintenance/pitr"
	"github.com/bookedbarber/pgtune/pgconf"
	"github.com/bookedbarber/pgtune/workload"
)

// workloadFigure is the workload's execution time by statement.
func workloadFigure(top []advisor.TopStatement) report.Figure {
	if len(top) == 0 {
		return nil
	}
	var c report.BarChart
	for _, s := range top {
		c.Bars = append(c.Bars, report.Bar{Label: fmt.Sprintf("%d. %s", s.Rank, quote.Excerpt(s.Query, 80)), Values: []float64{s.TotalExecMs},
			Text: fmt.Sprintf("%s · %.1f %%", duration(s.TotalExecMs), 100*s.TimeShare)})
	}
	return c
}

// maxAccessRows bounds the access heatmap: the columns the most calls use.
const maxAccessRows = 40

// accessFigure is per-table access: each column the workload uses (rows) by kind of use.
func accessFigure(tables []*workload.TableAccess) report.Figure {
	type row struct {
		name string
		ca   *workload.ColumnAccess
	}
	var rows []row
	kinds := map[string]int64{}
	for _, t := range tables {
		for _, c := range t.Columns {
			rows = append(rows, row{t.Table + "." + c.Column, c})
			for op, n := range c.Ops {
				kinds[op] += n
			}
			for k, n := range map[string]int64{"join": c.Joins, "order by": c.OrderBy, "group by": c.GroupBy} {
				if n > 0 {
					kinds[k] += n
				}
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(b.ca.Calls, a.ca.Calls) })
	rows = rows[:min(len(rows), maxAccessRows)]
	var cols []string
	for k := range kinds {
		cols = append(cols, k)
	}
	slices.SortFunc(cols, func(a, b string) int {
		if c := cmp.Compare(kinds[b], kinds[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	h := report.Heatmap{Cols: cols}
	for _, r := range rows {
		h.Rows = append(h.Rows, r.name)
		v := make([]float64, len(cols))
		for j, k := range cols {
			switch k {
			case "join":
				v[j] = float64(r.ca.Joins)
			case "order by":
				v[j] = float64(r.ca.OrderBy)
			case "group by":
				v[j] = float64(r.ca.GroupBy)
			default:
				v[j] = float64(r.ca.Ops[k])
			}
		}
		h.Values = append(h.Values, v)
	}
	return h
}

// indexFigure is an index proposal's planner cost per statement, before and after, from the
// finding's "cost FINGERPRINT" evidence ("11421.2 -> 18.4").
func indexFigure(f finding.Finding) report.Figure {
	if f.Rule != "index.create" {
		return nil
	}
	query := map[string]string{}
	for _, s := range f.Statements {
		query[s.Fingerprint] = s.Query
	}
	c := report.BarChart{Series: []string{"cost without the index", "with it"}}
	for _, e := range f.Evidence {
		fp, before, after, ok := indexes.ParseCostFact(e)
		if !ok {
			continue
		}
		label := fp
		if q := query[fp]; q != "" {
			label = quote.Excerpt(q, 80)
		}
		text := fmt.Sprintf("%.0f → %.0f", before, after)
		if before > 0 {
			saved := 100 * (before - after) / before
			if saved > 99 && saved < 100 {
				text += fmt.Sprintf(" (−%.1f %%)", saved)
			} else {
				text += fmt.Sprintf(" (−%.0f %%)", saved)
			}
		}
		c.Bars = append(c.Bars, report.Bar{Label: label, Values: []float64{before, after}, Text: text})
	}
	if len(c.Bars) == 0 {
		return nil
	}
	if size, ok := f.Evidence.Get("size_bytes"); ok {
		if n, ok := size.(int64); ok {
			c.Caption = "index " + pgconf.HumanBytes(n)
		}
	}
	if wc, ok := f.Evidence.Get("write_cost"); ok {
		c.Caption += fmt.Sprintf(" · write cost %v", wc)
	}
	c.Caption = strings.TrimPrefix(c.Caption, " · ")
	return c
}

// maxTimelineSpans bounds a timeline drawing; the table lists every action.
const maxTimelineSpans = 60

// planFigure is the night's window as a timeline: each action where a run with these jobs
// would put it, wraparound first as the plan orders them, and the window's end.
func planFigure(plan *maintenance.Plan, slots []maintenance.Slot, window time.Duration) report.Figure {
	if len(slots) == 0 {
		return nil
	}
	t := report.Timeline{Window: window.Seconds()}
	if window > 0 {
		t.WindowText = "window ends, " + durationString(window)
	}
	for i, s := range slots {
		if i == maxTimelineSpans {
			t.More = len(slots) - i
			break
		}
		a := plan.Actions[s.Action]
		class, text := a.Severity.String(), durationString(a.Estimate)
		switch {
		case s.Skipped != "":
			class, text = "skipped", "not permitted"
		case !s.Fits:
			class, text = "late", durationString(a.Estimate)+", does not fit"
		}
		label := fmt.Sprintf("%s %s", opsString(a.Ops), a.Table)
		if s.Jobs > 1 {
			text = fmt.Sprintf("job %d · %s", s.Job+1, text)
		}
		t.Spans = append(t.Spans, report.Span{Label: label, Start: s.Start.Seconds(), Length: s.Length().Seconds(), Text: text, Class: class})
	}
	return t
}

// drillFigure is the drill's steps one after another, with their durations.
func drillFigure(r *pitr.Report) report.Figure {
	if len(r.Steps) == 0 {
		return nil
	}
	var t report.Timeline
	at := 0.0
	for _, s := range r.Steps {
		class, text := "ok", durationString(s.Duration)
		if !s.Passed {
			class, text = "failed", "FAILED after "+text
		}
		t.Spans = append(t.Spans, report.Span{Label: s.Name, Start: at, Length: s.Duration.Seconds(), Text: text, Class: class})
		at += s.Duration.Seconds()
	}
	return t
}

// dataLossFigure is the recovery point: the WAL replayed from the backup's start to the last
// commit recovered, then the window a restore to the target loses at most.
func dataLossFigure(r *pitr.Report) report.Figure {
	if r.LastReplayed == nil || r.BackupStarted.IsZero() || r.Target == "latest" {
		return nil
	}
	replayed := r.LastReplayed.Sub(r.BackupStarted)
	return report.StackChart{Parts: []report.Part{
		{Label: "replayed: backup start to the last commit recovered", Value: max(replayed.Seconds(), 0), Text: durationString(replayed), Class: "ok"},
		{Label: "data-loss window: last commit recovered to the target", Value: r.DataLoss.Seconds(), Text: r.DataLoss.Round(time.Millisecond).String(), Class: "high"},
	}, WholeText: "backup start → target time"}
}

// memoryFigure is the worst-case memory budget stacked against RAM, with the OS's headroom
// marked.
func memoryFigure(m pgconf.MemoryBudget) report.Figure {
	c := report.StackChart{Whole: float64(m.RAM), WholeText: "RAM " + pgconf.HumanBytes(m.RAM),
		Marks: []report.Mark{{At: float64(m.Available), Label: "available " + pgconf.HumanBytes(m.Available)}}}
	for _, l := range m.Lines {
		c.Parts = append(c.Parts, report.Part{Label: l.Item, Value: float64(l.Bytes), Text: pgconf.HumanBytes(l.Bytes)})
	}
	if m.OverBy > 0 {
		c.WholeText += fmt.Sprintf(" · THE WORST CASE IS %s OVER", pgconf.HumanBytes(m.OverBy))
	}
	return c
}

// connectionFigure is the connection budget stacked against max_connections.
func connectionFigure(cb pgconf.ConnectionBudget) report.Figure {
	c := report.StackChart{Whole: float64(cb.MaxConnections), WholeText: fmt.Sprintf("max_connections %d", cb.MaxConnections)}
	for _, r := range cb.Rows {
		c.Parts = append(c.Parts, report.Part{Label: r.Source, Value: float64(r.Connections), Text: fmt.Sprint(r.Connections)})
	}
	return c
}
