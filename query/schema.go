package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/dbstate"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Schema is what a schema file defines, in the snapshot's terms.
type Schema struct {
	Tables      []dbstate.Table
	Indexes     []dbstate.Index
	Constraints []dbstate.Constraint
	Triggers    []dbstate.Trigger
	Extensions  []dbstate.Extension
	Views       []dbstate.View
}

// SchemaError is a schema file the parser rejects; Line is 1-based.
type SchemaError struct {
	Line    int
	Message string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Message)
}

// psqlMeta matches psql meta-command lines pg_dump writes (\connect, and \restrict/\unrestrict
// since the August 2025 releases); the server's parser knows none of them.
var psqlMeta = regexp.MustCompile(`(?m)^\\[a-zA-Z].*$`)

// ParseSchema reads a plain-format pg_dump (--schema-only, or a full dump whose COPY data is
// skipped) or any file of DDL: CREATE TABLE (with inline and table constraints, partitioning),
// ALTER TABLE ... ADD CONSTRAINT / ATTACH PARTITION / REPLICA IDENTITY, CREATE INDEX, CREATE
// TRIGGER, CREATE MATERIALIZED VIEW and CREATE EXTENSION. Everything else (SET, functions,
// sequences, grants, comments) is skipped. Unqualified names are taken to be in public.
func ParseSchema(sql string) (*Schema, error) {
	sql = stripCopyData(sql)
	sql = psqlMeta.ReplaceAllStringFunc(sql, func(s string) string { return strings.Repeat(" ", len(s)) })
	tree, err := pg_query.Parse(sql)
	if err != nil {
		pe := parseError(err).(*ParseError)
		return nil, &SchemaError{Line: lineOf(sql, pe.Position), Message: pe.Message}
	}
	b := &schemaBuilder{s: &Schema{}, tables: map[string]int{}, version: tree.Version}
	for _, raw := range tree.Stmts {
		b.statement(raw.Stmt)
	}
	b.finish()
	return b.s, nil
}

// stripCopyData blanks the data of COPY ... FROM stdin blocks (up to the \. line), keeping line
// numbers for error messages.
func stripCopyData(sql string) string {
	if !strings.Contains(sql, "FROM stdin;") {
		return sql
	}
	lines := strings.Split(sql, "\n")
	inCopy := false
	for i, l := range lines {
		switch {
		case inCopy:
			if l == `\.` {
				inCopy = false
			}
			lines[i] = ""
		case strings.HasPrefix(l, "COPY ") && strings.HasSuffix(strings.TrimSpace(l), "FROM stdin;"):
			inCopy = true
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

func lineOf(sql string, pos int) int {
	if pos <= 0 || pos > len(sql) {
		pos = len(sql)
	}
	return strings.Count(sql[:pos-1+min(1, len(sql)-pos+1)], "\n") + 1
}

type schemaBuilder struct {
	s       *Schema
	tables  map[string]int // "schema.name" → index in s.Tables
	version int32          // the parse tree's version, which the deparser checks
}

func qualified(rv *pg_query.RangeVar) (schema, name string) {
	schema = rv.Schemaname
	if schema == "" {
		schema = "public"
	}
	return schema, rv.Relname
}

func (b *schemaBuilder) table(schema, name string) *dbstate.Table {
	if i, ok := b.tables[schema+"."+name]; ok {
		return &b.s.Tables[i]
	}
	return nil
}

func (b *schemaBuilder) statement(n *pg_query.Node) {
	switch {
	case n.GetCreateStmt() != nil:
		b.createTable(n.GetCreateStmt())
	case n.GetAlterTableStmt() != nil:
		b.alterTable(n.GetAlterTableStmt())
	case n.GetIndexStmt() != nil:
		b.createIndex(n, n.GetIndexStmt())
	case n.GetCreateTrigStmt() != nil:
		ct := n.GetCreateTrigStmt()
		schema, table := qualified(ct.Relation)
		b.s.Triggers = append(b.s.Triggers, dbstate.Trigger{Schema: schema, Table: table, Name: ct.Trigname,
			Enabled: true, Definition: b.deparse(n)})
	case n.GetViewStmt() != nil && n.GetViewStmt().View != nil:
		vs := n.GetViewStmt()
		schema, name := qualified(vs.View)
		// The definition is the view's query, as pg_get_viewdef gives it live.
		if def := b.deparse(vs.Query); def != "" {
			b.s.Views = append(b.s.Views, dbstate.View{Schema: schema, Name: name, Definition: def})
		}
	case n.GetCreateTableAsStmt() != nil:
		ctas := n.GetCreateTableAsStmt()
		if ctas.Objtype == pg_query.ObjectType_OBJECT_MATVIEW && ctas.Into != nil && ctas.Into.Rel != nil {
			schema, name := qualified(ctas.Into.Rel)
			b.addTable(dbstate.Table{Schema: schema, Name: name, Kind: "matview", RowEstimate: -1})
		}
	case n.GetCreateExtensionStmt() != nil:
		ce := n.GetCreateExtensionStmt()
		ext := dbstate.Extension{Name: ce.Extname, Schema: "public"}
		for _, o := range ce.Options {
			if d := o.GetDefElem(); d != nil {
				switch d.Defname {
				case "schema":
					ext.Schema = d.Arg.GetString_().GetSval()
				case "new_version":
					ext.Version = d.Arg.GetString_().GetSval()
				}
			}
		}
		b.s.Extensions = append(b.s.Extensions, ext)
	}
}

func (b *schemaBuilder) addTable(t dbstate.Table) *dbstate.Table {
	if prev := b.table(t.Schema, t.Name); prev != nil {
		return prev
	}
	b.tables[t.Key()] = len(b.s.Tables)
	b.s.Tables = append(b.s.Tables, t)
	return &b.s.Tables[len(b.s.Tables)-1]
}

func (b *schemaBuilder) createTable(cs *pg_query.CreateStmt) {
	schema, name := qualified(cs.Relation)
	t := dbstate.Table{Schema: schema, Name: name, Kind: "table", RowEstimate: -1}
	if cs.Partspec != nil {
		t.Kind = "partitioned"
	}
	switch cs.Relation.Relpersistence {
	case "u":
		t.Persistence = "unlogged"
	case "t":
		t.Persistence = "temporary"
	}
	if cs.Partbound != nil && len(cs.InhRelations) == 1 {
		if rv := cs.InhRelations[0].GetRangeVar(); rv != nil {
			ps, pn := qualified(rv)
			t.Parent = ps + "." + pn
		}
	}
	for _, o := range cs.Options {
		if d := o.GetDefElem(); d != nil {
			t.Reloptions = append(t.Reloptions, d.Defname+"="+defValue(d.Arg))
		}
	}
	var cons []*pg_query.Constraint
	for _, e := range cs.TableElts {
		switch {
		case e.GetColumnDef() != nil:
			cd := e.GetColumnDef()
			c := dbstate.Column{Name: cd.Colname, Type: formatType(cd.TypeName), NotNull: cd.IsNotNull}
			if cd.RawDefault != nil {
				c.Default = exprText(cd.RawDefault)
			}
			switch {
			case cd.Identity != "":
				c.Generated = "identity"
			case cd.Generated == "s":
				c.Generated = "stored"
			}
			for _, cn := range cd.Constraints {
				con := cn.GetConstraint()
				if con == nil {
					continue
				}
				switch con.Contype {
				case pg_query.ConstrType_CONSTR_NOTNULL, pg_query.ConstrType_CONSTR_PRIMARY:
					c.NotNull = true
				case pg_query.ConstrType_CONSTR_DEFAULT:
					c.Default = exprText(con.RawExpr)
				case pg_query.ConstrType_CONSTR_IDENTITY:
					c.Generated = "identity"
				case pg_query.ConstrType_CONSTR_GENERATED:
					c.Generated = "stored"
				}
				switch con.Contype {
				case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_UNIQUE, pg_query.ConstrType_CONSTR_FOREIGN, pg_query.ConstrType_CONSTR_CHECK:
					if len(con.Keys) == 0 && len(con.FkAttrs) == 0 {
						// A column constraint names its own column.
						con.Keys = []*pg_query.Node{pg_query.MakeStrNode(cd.Colname)}
						if con.Contype == pg_query.ConstrType_CONSTR_FOREIGN {
							con.FkAttrs = con.Keys
						}
					}
					cons = append(cons, con)
				}
			}
			t.Columns = append(t.Columns, c)
		case e.GetConstraint() != nil:
			cons = append(cons, e.GetConstraint())
		}
	}
	cons = append(cons, nodesConstraints(cs.Constraints)...)
	b.addTable(t)
	for _, con := range cons {
		b.addConstraint(schema, name, con)
	}
}

func nodesConstraints(nodes []*pg_query.Node) []*pg_query.Constraint {
	var out []*pg_query.Constraint
	for _, n := range nodes {
		if c := n.GetConstraint(); c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (b *schemaBuilder) alterTable(at *pg_query.AlterTableStmt) {
	if at.Relation == nil {
		return
	}
	schema, name := qualified(at.Relation)
	for _, c := range at.Cmds {
		cmd := c.GetAlterTableCmd()
		if cmd == nil {
			continue
		}
		switch cmd.Subtype {
		case pg_query.AlterTableType_AT_AddConstraint:
			if con := cmd.Def.GetConstraint(); con != nil {
				b.addConstraint(schema, name, con)
			}
		case pg_query.AlterTableType_AT_AttachPartition:
			if pc := cmd.Def.GetPartitionCmd(); pc != nil && pc.Name != nil {
				cs, cn := qualified(pc.Name)
				if t := b.table(cs, cn); t != nil {
					t.Parent = schema + "." + name
				}
			}
		case pg_query.AlterTableType_AT_ReplicaIdentity:
			if ri := cmd.Def.GetReplicaIdentityStmt(); ri != nil && ri.IdentityType == "i" {
				if t := b.table(schema, name); t != nil {
					t.ReplicaIdentityIndex = ri.Name
				}
			}
		}
	}
}

func names(nodes []*pg_query.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.GetString_().GetSval())
	}
	return out
}

func (b *schemaBuilder) addConstraint(schema, table string, con *pg_query.Constraint) {
	c := dbstate.Constraint{Schema: schema, Table: table, Name: con.Conname, Validated: !con.SkipValidation}
	cols := names(con.Keys)
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_PRIMARY:
		c.Type = "primary_key"
		if c.Name == "" {
			c.Name = table + "_pkey"
		}
		c.Definition = "PRIMARY KEY (" + strings.Join(cols, ", ") + ")"
	case pg_query.ConstrType_CONSTR_UNIQUE:
		c.Type = "unique"
		if c.Name == "" {
			c.Name = table + "_" + strings.Join(cols, "_") + "_key"
		}
		c.Definition = "UNIQUE (" + strings.Join(cols, ", ") + ")"
	case pg_query.ConstrType_CONSTR_FOREIGN:
		c.Type = "foreign_key"
		cols = names(con.FkAttrs)
		if con.Pktable != nil {
			rs, rn := qualified(con.Pktable)
			c.References = rs + "." + rn
		}
		c.RefColumns = names(con.PkAttrs)
		if c.Name == "" {
			c.Name = table + "_" + strings.Join(cols, "_") + "_fkey"
		}
		c.Definition = fmt.Sprintf("FOREIGN KEY (%s) REFERENCES %s", strings.Join(cols, ", "), c.References)
		if len(c.RefColumns) > 0 {
			c.Definition += "(" + strings.Join(c.RefColumns, ", ") + ")"
		}
	case pg_query.ConstrType_CONSTR_CHECK:
		c.Type = "check"
		if c.Name == "" {
			c.Name = table + "_check"
		}
		cols = nil
		c.Definition = "CHECK (" + exprText(con.RawExpr) + ")"
	case pg_query.ConstrType_CONSTR_EXCLUSION:
		c.Type = "exclusion"
		c.Definition = "EXCLUDE …"
	default:
		return
	}
	c.Columns = cols
	if c.Type == "primary_key" || c.Type == "unique" {
		ix := dbstate.Index{Schema: schema, Table: table, Name: c.Name, Method: "btree", Unique: true,
			Primary: c.Type == "primary_key", Valid: true, Constraint: c.Name, Scans: -1, Include: names(con.Including)}
		if con.Indexname != "" { // ADD CONSTRAINT ... USING INDEX
			ix.Name = con.Indexname
		}
		for _, col := range cols {
			ix.Keys = append(ix.Keys, dbstate.IndexKey{Column: col})
			if t := b.table(schema, table); t != nil && c.Type == "primary_key" {
				if tc := t.Column(col); tc != nil {
					tc.NotNull = true
				}
			}
		}
		ix.Definition = fmt.Sprintf("CREATE UNIQUE INDEX %s ON %s.%s USING btree (%s)", ix.Name, schema, table, strings.Join(cols, ", "))
		if len(ix.Include) > 0 {
			ix.Definition += " INCLUDE (" + strings.Join(ix.Include, ", ") + ")"
		}
		c.Index = ix.Name
		b.s.Indexes = append(b.s.Indexes, ix)
	}
	b.s.Constraints = append(b.s.Constraints, c)
}

func (b *schemaBuilder) createIndex(n *pg_query.Node, is *pg_query.IndexStmt) {
	schema, table := qualified(is.Relation)
	ix := dbstate.Index{Schema: schema, Table: table, Name: is.Idxname, Method: is.AccessMethod,
		Unique: is.Unique, Primary: is.Primary, Valid: true, Scans: -1}
	if ix.Method == "" {
		ix.Method = "btree"
	}
	if t := b.table(schema, table); t != nil && t.Kind == "partitioned" {
		ix.Partitioned = true
	}
	for _, p := range is.IndexParams {
		e := p.GetIndexElem()
		if e == nil {
			continue
		}
		k := dbstate.IndexKey{Column: e.Name}
		if e.Name == "" {
			k.Expr = exprText(e.Expr)
		}
		if len(e.Opclass) > 0 {
			k.Opclass = quote.QualifiedKey(funcName(e.Opclass))
		}
		if len(e.Collation) > 0 && k.Expr == "" {
			k.Collation = quote.Ident(funcName(e.Collation))
		}
		k.Desc = e.Ordering == pg_query.SortByDir_SORTBY_DESC
		switch e.NullsOrdering {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			k.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			k.NullsFirst = false
		default:
			k.NullsFirst = k.Desc
		}
		ix.Keys = append(ix.Keys, k)
	}
	for _, p := range is.IndexIncludingParams {
		if e := p.GetIndexElem(); e != nil {
			ix.Include = append(ix.Include, e.Name)
		}
	}
	if is.WhereClause != nil {
		ix.Predicate = exprText(is.WhereClause)
	}
	if ix.Name == "" {
		cols := make([]string, 0, len(ix.Keys))
		for _, k := range ix.Keys {
			cols = append(cols, cmpOr(k.Column, "expr"))
		}
		ix.Name = table + "_" + strings.Join(cols, "_") + "_idx"
	}
	ix.Definition = b.deparse(n)
	b.s.Indexes = append(b.s.Indexes, ix)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// finish drops indexes and constraints of tables the file never created (e.g. a dump cut short)
// and sorts everything the way the live collector does.
func (b *schemaBuilder) finish() {
	s := b.s
	s.Indexes = slices.DeleteFunc(s.Indexes, func(ix dbstate.Index) bool { return b.table(ix.Schema, ix.Table) == nil })
	b.markReferenced()
	slices.SortStableFunc(s.Tables, func(a, c dbstate.Table) int { return strings.Compare(a.Key(), c.Key()) })
	slices.SortStableFunc(s.Indexes, func(a, c dbstate.Index) int {
		return strings.Compare(a.Schema+"."+a.Table+"."+a.Name, c.Schema+"."+c.Table+"."+c.Name)
	})
	slices.SortStableFunc(s.Constraints, func(a, c dbstate.Constraint) int {
		return strings.Compare(a.Schema+"."+a.Table+"."+a.Name, c.Schema+"."+c.Table+"."+c.Name)
	})
}

// markReferenced marks the unique indexes foreign keys may depend on. A dump does not say which
// one a foreign key checks through (pg_constraint.conindid), so every unique, non-partial index
// whose plain keys are the referenced columns (the primary key's when none are named) counts.
func (b *schemaBuilder) markReferenced() {
	s := b.s
	for _, fk := range s.Constraints {
		if fk.Type != "foreign_key" || fk.References == "" {
			continue
		}
		ref := fk.RefColumns
		if len(ref) == 0 {
			for _, ix := range s.Indexes {
				if ix.Primary && ix.TableKey() == fk.References {
					for _, k := range ix.Keys {
						ref = append(ref, k.Column)
					}
				}
			}
		}
		for i := range s.Indexes {
			ix := &s.Indexes[i]
			if !ix.Unique || ix.Predicate != "" || ix.TableKey() != fk.References || len(ix.Keys) != len(ref) {
				continue
			}
			match := true
			for _, k := range ix.Keys {
				match = match && k.Column != "" && slices.Contains(ref, k.Column)
			}
			if match && !slices.Contains(ix.ReferencedBy, fk.Name) {
				ix.ReferencedBy = append(ix.ReferencedBy, fk.Name)
			}
		}
	}
}

func (b *schemaBuilder) deparse(n *pg_query.Node) string {
	out, err := pg_query.Deparse(&pg_query.ParseResult{Version: b.version, Stmts: []*pg_query.RawStmt{{Stmt: n}}})
	if err != nil {
		return ""
	}
	return out
}

func defValue(n *pg_query.Node) string {
	switch {
	case n == nil:
		return "true"
	case n.GetString_() != nil:
		return n.GetString_().GetSval()
	case n.GetInteger() != nil:
		return strconv.Itoa(int(n.GetInteger().GetIval()))
	case n.GetFloat() != nil:
		return n.GetFloat().GetFval()
	case n.GetBoolean() != nil:
		return strconv.FormatBool(n.GetBoolean().GetBoolval())
	case n.GetTypeName() != nil:
		return typeName(n.GetTypeName())
	}
	return exprText(n)
}

// formatNames are the names format_type() gives the types the parser knows by internal name, so
// a column read from a dump has the same type text as one read from a live catalog.
var formatNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "bpchar": "character", "varchar": "character varying", "timestamptz": "timestamp with time zone",
	"timestamp": "timestamp without time zone", "timetz": "time with time zone", "time": "time without time zone",
	"varbit": "bit varying", "interval": "interval", "numeric": "numeric",
}

func formatType(tn *pg_query.TypeName) string {
	if tn == nil {
		return ""
	}
	name := funcName(tn.Names)
	if f, ok := formatNames[name]; ok {
		name = f
	}
	var mods []string
	for _, m := range tn.Typmods {
		if c := m.GetAConst(); c != nil {
			if s, ok := constValue(c); ok {
				mods = append(mods, s)
			}
		}
	}
	if len(mods) > 0 {
		switch {
		case strings.HasPrefix(name, "timestamp "):
			name = "timestamp(" + mods[0] + ") " + strings.TrimPrefix(name, "timestamp ")
		case strings.HasPrefix(name, "time "):
			name = "time(" + mods[0] + ") " + strings.TrimPrefix(name, "time ")
		default:
			name += "(" + strings.Join(mods, ",") + ")"
		}
	}
	for range tn.ArrayBounds {
		name += "[]"
	}
	return name
}

// ParseIndexes reads the CREATE INDEX statements of a SQL text (a migration file) into the
// model's index type, whatever else the text holds. Unqualified tables are taken to be in public.
func ParseIndexes(sql string) ([]dbstate.Index, error) {
	tree, err := pg_query.Parse(stripCopyData(psqlMeta.ReplaceAllStringFunc(sql, func(s string) string { return strings.Repeat(" ", len(s)) })))
	if err != nil {
		pe := parseError(err).(*ParseError)
		return nil, &SchemaError{Line: lineOf(sql, pe.Position), Message: pe.Message}
	}
	b := &schemaBuilder{s: &Schema{}, tables: map[string]int{}, version: tree.Version}
	for _, raw := range tree.Stmts {
		if is := raw.Stmt.GetIndexStmt(); is != nil {
			b.createIndex(raw.Stmt, is)
		}
	}
	return b.s.Indexes, nil
}
