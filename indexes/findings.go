package indexes

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"
)

// CostFact is an index finding's evidence of one statement's planner cost without and with the
// index: "cost FINGERPRINT": "11421.2 -> 18.4" (docs/json.md).
func CostFact(fingerprint string, before, after float64) finding.Fact {
	return finding.Fact{Name: "cost " + fingerprint, Value: fmt.Sprintf("%.1f -> %.1f", before, after)}
}

// ParseCostFact reads a CostFact back (the HTML report draws it); ok is false for any other fact.
func ParseCostFact(f finding.Fact) (fingerprint string, before, after float64, ok bool) {
	fp, isCost := strings.CutPrefix(f.Name, "cost ")
	s, isText := f.Value.(string)
	b, a, arrow := strings.Cut(s, " -> ")
	if !isCost || !isText || !arrow {
		return "", 0, 0, false
	}
	before, err1 := strconv.ParseFloat(b, 64)
	after, err2 := strconv.ParseFloat(a, 64)
	return fp, before, after, err1 == nil && err2 == nil
}

// Findings turns a selection into advise's findings: one per proposed index, graded by the share
// of the workload's planner cost it saves. planned marks findings the live planner proved (an
// offline run cannot repeat them); estimated marks findings priced from statistics alone.
func Findings(res *Result, w *workload.Workload, planned, estimated bool) []finding.Finding {
	byFP := map[string]*workload.Entry{}
	for _, ws := range w.Statements {
		byFP[ws.Fingerprint] = ws
	}
	var out []finding.Finding
	for _, p := range res.Proposals {
		c := p.Candidate
		estimated := estimated || p.Estimated
		f := finding.Finding{
			Rule: "index.create", Kind: finding.KindIndex, Table: c.Table,
			Severity: max(finding.SeverityForShare(p.Share), finding.SeverityLow),
			Title:    fmt.Sprintf("create %s: saves %.1f%% of the workload's planner cost", c.Name, 100*p.Share),
			Detail: fmt.Sprintf("Why: %s. The planner%s prices every statement it serves with and without it; the index "+
				"costs %s and adds write cost %.0f (weighted like the savings).", strings.Join(c.Why, "; "), via(estimated), bytesText(p.SizeBytes), p.WriteCost),
			Evidence: finding.Facts("size_bytes", int64(p.SizeBytes), "benefit", finding.Round(p.Benefit, 1), "share", finding.Round(p.Share, 4),
				"write_cost", finding.Round(p.WriteCost, 1)),
			SQL:              needs(c) + c.Definition() + ";",
			Index:            c.Spec(),
			Impact:           finding.Round(p.Share, 4),
			NeedsLivePlanner: planned,
			Estimated:        estimated,
		}
		if estimated {
			f.Title += " (estimated)"
		}
		for _, e := range p.Effects {
			f.Evidence = append(f.Evidence, CostFact(e.Fingerprint, e.Before, e.After))
			if ws := byFP[e.Fingerprint]; ws != nil {
				f.Statements = append(f.Statements, finding.StatementOf(ws))
			}
		}
		var then []string
		if len(p.BreaksHOT) > 0 {
			then = append(then, "UPDATEs that set "+strings.Join(p.BreaksHOT, ", ")+" can no longer be HOT updates")
		}
		if len(p.Replaces) > 0 {
			then = append(then, "it makes "+strings.Join(p.Replaces, ", ")+" redundant: drop that once this one is built")
		}
		if len(p.Alternatives) > 0 {
			then = append(then, "alternatives that lost: "+strings.Join(p.Alternatives, "; "))
		}
		then = append(then, "or write it as a migration: pgtune indexes generate --dir DIR")
		f.Action = strings.Join(then, "; ")
		out = append(out, f)
	}
	return out
}

// needs is the CREATE EXTENSION an index's operator class needs, if any.
func needs(c *Candidate) string {
	if c.Needs == "" {
		return ""
	}
	return "CREATE EXTENSION IF NOT EXISTS " + c.Needs + ";\n"
}

func via(estimated bool) string {
	if estimated {
		return "-like estimate from pg_stats (no HypoPG here: not proven by the planner)"
	}
	return " (through HypoPG)"
}
