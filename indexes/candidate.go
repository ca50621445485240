// Package indexes is pgtune's index engine: it proposes candidate indexes from the workload's
// statement model (candidate.go, generate.go), prices them with the planner through HypoPG
// (whatif.go), selects the set that serves the whole workload best within budgets, and renders
// migration files. This file holds the candidate type and its naming.
package indexes

import (
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Candidate is an index pgtune could create.
type Candidate struct {
	// Table is the catalog's "schema.name".
	Table  string `json:"table"`
	Method string `json:"method"` // btree, gin, brin
	// Keys are the key columns or expressions with their order and operator class.
	Keys    []dbstate.IndexKey `json:"keys"`
	Include []string           `json:"include,omitempty"`
	// Where is the predicate of a partial index, as SQL.
	Where string `json:"where,omitempty"`
	// Name is deterministic and at most 63 bytes.
	Name string `json:"name"`
	// Serves lists the fingerprints of the statements it was derived from.
	Serves []string `json:"serves"`
	// Why says how the statements shaped it ("equality on barber_id", "range on start_time", ...).
	Why []string `json:"why"`
	// Estimated marks a candidate the planner cannot price through HypoPG (GIN, GiST): its
	// benefit is estimated from statistics.
	Estimated bool `json:"estimated,omitempty"`
	// Needs names an extension the index needs (pg_trgm for trigram operator classes).
	Needs string `json:"needs,omitempty"`
}

// Signature identifies what an index does, whatever its name: two candidates with the same
// signature are the same index.
func (c *Candidate) Signature() string {
	var b strings.Builder
	b.WriteString(c.Table + "|" + c.Method + "|")
	for i, k := range c.Keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(k.String())
	}
	b.WriteString("|" + strings.Join(c.Include, ",") + "|" + c.Where)
	return b.String()
}

// Definition is the CREATE INDEX statement, built CONCURRENTLY (so the table stays writable)
// and IF NOT EXISTS (so a second run is a no-op).
func (c *Candidate) Definition() string {
	return c.definition(defOnline)
}

// PlainDefinition is CREATE INDEX without CONCURRENTLY or IF NOT EXISTS, the form HypoPG takes.
func (c *Candidate) PlainDefinition() string {
	return c.definition(defPlain)
}

// defMode is which CREATE INDEX a definition is.
type defMode int

const (
	defPlain  defMode = iota // CREATE INDEX name ON t: HypoPG's form
	defOnline                // CONCURRENTLY IF NOT EXISTS: a migration's build
	defOnly                  // IF NOT EXISTS ... ON ONLY t: a partitioned parent's own entry, no build
)

func (c *Candidate) definition(mode defMode) string {
	var b strings.Builder
	b.WriteString("CREATE INDEX ")
	switch mode {
	case defOnline:
		b.WriteString("CONCURRENTLY IF NOT EXISTS ")
	case defOnly:
		b.WriteString("IF NOT EXISTS ")
	}
	b.WriteString(quote.Ident(c.Name) + " ON ")
	if mode == defOnly {
		b.WriteString("ONLY ")
	}
	b.WriteString(quote.QualifiedKey(c.Table))
	if c.Method != "btree" {
		b.WriteString(" USING " + c.Method)
	}
	b.WriteString(" (")
	for i, k := range c.Keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if k.Column != "" {
			k.Column = quote.Ident(k.Column)
		}
		b.WriteString(k.String())
	}
	b.WriteString(")")
	if len(c.Include) > 0 {
		inc := make([]string, len(c.Include))
		for i, col := range c.Include {
			inc[i] = quote.Ident(col)
		}
		b.WriteString(" INCLUDE (" + strings.Join(inc, ", ") + ")")
	}
	if c.Where != "" {
		b.WriteString(" WHERE " + c.Where)
	}
	return b.String()
}

// Spec is the candidate as a finding's structured index.
func (c *Candidate) Spec() *finding.IndexSpec {
	schema, table, _ := strings.Cut(c.Table, ".")
	s := &finding.IndexSpec{Schema: schema, Table: table, Name: c.Name, Method: c.Method, Include: c.Include, Where: c.Where}
	for _, k := range c.Keys {
		s.Columns = append(s.Columns, k.String())
	}
	return s
}

// nameFor builds a deterministic name: table, key columns (or a word for an expression), a word
// for the predicate, and the method when not B-tree, ending in _idx. Only the names' letters and
// digits are kept (quote.Name), so the name is also a safe file name; a name longer than 63
// bytes is cut on a character boundary and ends in a hash of the full name.
func nameFor(table string, c *Candidate) string {
	_, short, ok := strings.Cut(table, ".")
	if !ok {
		short = table
	}
	parts := []string{short}
	for _, k := range c.Keys {
		parts = append(parts, nameWord(k))
	}
	if c.Where != "" {
		parts = append(parts, whereWord(c.Where))
	}
	if c.Method != "btree" && !(c.Method == "gin" && strings.HasSuffix(parts[len(parts)-1], "_trgm")) {
		parts = append(parts, c.Method)
	}
	if len(c.Include) > 0 {
		parts = append(parts, "incl")
	}
	return quote.Name("idx", parts...)
}

// nameWord is a key in a name: the column, or the function and column of an expression
// ("lower_email"), with _desc for a descending key and the operator class's gist (trgm).
func nameWord(k dbstate.IndexKey) string {
	w := k.Column
	if w == "" {
		w = identWord(k.Expr)
	}
	if k.Desc {
		w += "_desc"
	}
	if strings.Contains(k.Opclass, "trgm") {
		w += "_trgm"
	}
	return w
}

// whereWord names a predicate by its constants ("status = 'pending'" → "pending").
func whereWord(where string) string {
	var words []string
	for _, part := range strings.Split(where, "'")[1:] {
		if w := identWord(part); w != "" && len(words) < 3 && !strings.ContainsAny(part, "=<>") {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return "partial"
	}
	return strings.Join(words, "_")
}

// identWord keeps the letters, digits and underscores of s, lower-cased, joined by _.
func identWord(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	})
	return strings.Join(f, "_")
}
