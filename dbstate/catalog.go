package dbstate

// Catalog indexes a snapshot's tables, indexes and statistics by name for the analysers.
type Catalog struct {
	snap    *Snapshot
	tables  map[string]*Table // "schema.name"
	byName  map[string][]*Table
	indexes map[string][]*Index // by table key
	stats   map[string]*ColumnStat
	cons    map[string][]*Constraint // by table key
}

// NewCatalog indexes snap. The snapshot must not change while the catalog is in use.
func NewCatalog(snap *Snapshot) *Catalog {
	c := &Catalog{
		snap:    snap,
		tables:  map[string]*Table{},
		byName:  map[string][]*Table{},
		indexes: map[string][]*Index{},
		stats:   map[string]*ColumnStat{},
		cons:    map[string][]*Constraint{},
	}
	for i := range snap.Tables {
		t := &snap.Tables[i]
		c.tables[t.Key()] = t
		c.byName[t.Name] = append(c.byName[t.Name], t)
	}
	for i := range snap.Indexes {
		ix := &snap.Indexes[i]
		c.indexes[ix.TableKey()] = append(c.indexes[ix.TableKey()], ix)
	}
	for i := range snap.ColumnStats {
		cs := &snap.ColumnStats[i]
		k := QualifiedName(cs.Schema, cs.Table) + "." + cs.Column
		// A partitioned parent has only inherited rows; a plain table's own row wins over an
		// inherited one (which also counts its inheritance children).
		if prev, ok := c.stats[k]; ok && !prev.Inherited {
			continue
		}
		c.stats[k] = cs
	}
	for i := range snap.Constraints {
		k := QualifiedName(snap.Constraints[i].Schema, snap.Constraints[i].Table)
		c.cons[k] = append(c.cons[k], &snap.Constraints[i])
	}
	return c
}

// Snapshot returns the indexed snapshot.
func (c *Catalog) Snapshot() *Snapshot { return c.snap }

// Table finds a table by the name a statement used: "schema.name" exactly, or a bare name the way
// a default search_path would (public first, then the only schema that has it). nil if unknown.
func (c *Catalog) Table(name string) *Table {
	if t, ok := c.tables[name]; ok {
		return t
	}
	cands := c.byName[name]
	if len(cands) == 1 {
		return cands[0]
	}
	for _, t := range cands {
		if t.Schema == "public" {
			return t
		}
	}
	return nil
}

// Indexes returns a table's indexes (by Table.Key()).
func (c *Catalog) Indexes(tableKey string) []*Index { return c.indexes[tableKey] }

// Constraints returns a table's constraints (by Table.Key()).
func (c *Catalog) Constraints(tableKey string) []*Constraint { return c.cons[tableKey] }

// ColumnStat returns pg_stats for a column (by Table.Key()), or nil.
func (c *Catalog) ColumnStat(tableKey, column string) *ColumnStat {
	return c.stats[tableKey+"."+column]
}

// HasColumn reports whether a table (by the name a statement used) has a column.
func (c *Catalog) HasColumn(table, column string) bool {
	t := c.Table(table)
	return t != nil && t.Column(column) != nil
}

// QualifiedName joins a schema and a name ("name" alone when schema is empty).
func QualifiedName(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}
