package query

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/workload"
)

func TestKindAndTables(t *testing.T) {
	cases := []struct {
		sql    string
		kind   workload.StatementKind
		tables []workload.TableRef
	}{
		{"SELECT * FROM appointments a JOIN clients c ON c.id = a.client_id WHERE a.barber_id = $1",
			workload.KindSelect, []workload.TableRef{{Name: "appointments", Alias: "a", Access: workload.AccessRead}, {Name: "clients", Alias: "c", Access: workload.AccessRead}}},
		{"WITH due AS (SELECT id FROM public.notifications WHERE status = 'pending') UPDATE public.notifications n SET status = 'sent' FROM due WHERE n.id = due.id",
			workload.KindUpdate, []workload.TableRef{{Schema: "public", Name: "notifications", Access: workload.AccessRead}, {Schema: "public", Name: "notifications", Alias: "n", Access: workload.AccessWrite}}},
		{"INSERT INTO reviews (appointment_id) VALUES ($1) ON CONFLICT (appointment_id) DO NOTHING",
			workload.KindInsert, []workload.TableRef{{Name: "reviews", Access: workload.AccessWrite}}},
		{"DELETE FROM time_off WHERE ends_at < now()", workload.KindDelete, []workload.TableRef{{Name: "time_off", Access: workload.AccessWrite}}},
		{"CREATE INDEX CONCURRENTLY ON payments (stripe_payment_intent_id)", workload.KindUtility, []workload.TableRef{{Name: "payments", Access: workload.AccessDDL}}},
		{"SELECT 1", workload.KindSelect, nil},
		{"BEGIN", workload.KindUtility, nil},
		// A CTE is not a table, even when it shares a table's name.
		{"WITH clients AS (SELECT 1 AS id) SELECT * FROM clients", workload.KindSelect, nil},
		{"SELECT * FROM (SELECT id FROM shops) s JOIN LATERAL (SELECT 1 FROM locations l WHERE l.shop_id = s.id) x ON true",
			workload.KindSelect, []workload.TableRef{{Name: "shops", Access: workload.AccessRead}, {Name: "locations", Alias: "l", Access: workload.AccessRead}}},
		{"SELECT a FROM t1 UNION ALL SELECT b FROM t2", workload.KindSelect, []workload.TableRef{{Name: "t1", Access: workload.AccessRead}, {Name: "t2", Access: workload.AccessRead}}},
	}
	for _, c := range cases {
		st, err := Parse(c.sql)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sql, err)
			continue
		}
		if st.Kind != c.kind {
			t.Errorf("Parse(%q).Kind = %s, want %s", c.sql, st.Kind, c.kind)
		}
		if !reflect.DeepEqual(st.Tables, c.tables) {
			t.Errorf("Parse(%q).Tables = %+v, want %+v", c.sql, st.Tables, c.tables)
		}
		if len(st.Fingerprint) != 16 {
			t.Errorf("Parse(%q).Fingerprint = %q", c.sql, st.Fingerprint)
		}
	}
}

// pred renders a predicate compactly for comparisons: "table.column op operator value [wrapper]".
func pred(p workload.Predicate) string {
	s := fmt.Sprintf("%s %s %s", p.Column.String(), p.Op, p.Operator)
	if p.Value != nil {
		s += " " + string(p.Value.Kind) + ":" + p.Value.Text
	}
	if p.Wrapper != nil {
		s += fmt.Sprintf(" [%s %s %s]", p.Wrapper.Kind, p.Wrapper.Name, p.Wrapper.Expr)
	}
	if p.OrGroup > 0 {
		s += fmt.Sprintf(" or%d", p.OrGroup)
	}
	if p.Negated {
		s += " not"
	}
	if p.CaseInsensitive {
		s += " ci"
	}
	return s
}

func TestPredicates(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{"SELECT 1 FROM t WHERE a = $1 AND b IN ('x', 'y') AND c = ANY($2) AND d > $3 AND $4 >= e",
			[]string{"t.a eq = param:$1", "t.b in = list:('x', 'y')", "t.c in = param:$2", "t.d range > param:$3", "t.e range <= param:$4"}},
		{"SELECT 1 FROM t WHERE a BETWEEN $1 AND $2 AND b IS NULL AND c IS NOT NULL AND d <> 'x' AND e NOT IN (1, 2)",
			[]string{"t.a between BETWEEN list:($1, $2)", "t.b is_null IS NULL", "t.c is_not_null IS NOT NULL", "t.d ne <> const:'x'", "t.e ne <> list:(1, 2)"}},
		{"SELECT 1 FROM t WHERE a LIKE 'abc%' AND b LIKE '%abc' AND c ILIKE $1 AND d LIKE '%' || $2 AND e LIKE $3 || '%' AND f NOT LIKE 'x%'",
			[]string{"t.a like_prefix ~~ const:'abc%'", "t.b like_leading_wildcard ~~ const:'%abc'", "t.c like_parameter ~~* param:$1 ci",
				"t.d like_leading_wildcard ~~ expr:'%' || $2", "t.e like_parameter ~~ expr:$3 || '%'", "t.f like_prefix !~~ const:'x%' not"}},
		{"SELECT 1 FROM t WHERE tags @> $1 AND doc ? 'k' AND doc @> '{\"a\":1}'::jsonb",
			[]string{"t.tags contains @> param:$1", "t.doc contains ? const:'k'", "t.doc contains @> const:'{\"a\":1}'::jsonb"}},
		{"SELECT 1 FROM t WHERE lower(email) = lower($1) AND date(ts) = $2 AND ts::date > $3 AND ts + interval '1 day' > $4 AND date_trunc('day', ts) = $5",
			[]string{"t.email eq = expr:lower($1) [function lower lower(email)]", "t.ts eq = param:$2 [function date date(ts)]",
				"t.ts range > param:$3 [cast date ts::date]", "t.ts range > param:$4 [arithmetic + ts + '1 day'::interval]",
				"t.ts eq = param:$5 [function date_trunc date_trunc('day', ts)]"}},
		{"SELECT 1 FROM t WHERE a = $1 AND (b = $2 OR c = $3) AND (d IS NULL OR d >= $4)",
			[]string{"t.a eq = param:$1", "t.b eq = param:$2 or1", "t.c eq = param:$3 or1", "t.d is_null IS NULL or2", "t.d range >= param:$4 or2"}},
		{"SELECT 1 FROM t WHERE active AND NOT deleted AND flag IS TRUE",
			[]string{"t.active eq = const:true", "t.deleted eq = const:false", "t.flag eq = const:true"}},
		{"SELECT 1 FROM t WHERE NOT (a = $1)", []string{"t.a eq = param:$1 not"}},
		{"SELECT 1 FROM t WHERE a IN (SELECT x FROM u WHERE u.y = $1)", []string{"t.a in_subquery IN subquery:(SELECT …)", "u.y eq = param:$1"}},
		{"SELECT 1 FROM t WHERE a IS DISTINCT FROM $1 AND b IS NOT DISTINCT FROM $2", []string{"t.a ne = param:$1", "t.b eq = param:$2"}},
	}
	for _, c := range cases {
		st, err := Parse(c.sql)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.sql, err)
			continue
		}
		var got []string
		for _, p := range st.Predicates {
			got = append(got, pred(p))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Parse(%q) predicates:\n got  %q\n want %q", c.sql, got, c.want)
		}
	}
}

func TestAliasesJoinsAndScopes(t *testing.T) {
	st, err := Parse(`SELECT a.id, c.first_name FROM appointments a
JOIN clients c ON c.id = a.client_id
LEFT JOIN services USING (service_id)
WHERE a.barber_id = $1 AND a.start_time >= $2
  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.appointment_id = a.id AND n.kind = 'reminder_24h')
ORDER BY a.start_time DESC NULLS LAST, 2 LIMIT 20 OFFSET $3 FOR UPDATE SKIP LOCKED`)
	if err != nil {
		t.Fatal(err)
	}
	var joins []string
	for _, j := range st.Joins {
		joins = append(joins, j.Left.String()+"="+j.Right.String()+"/"+j.Clause)
	}
	// USING's left side holds two tables: the catalog decides which has service_id.
	wantJoins := []string{"clients.id=appointments.client_id/join", "service_id=services.service_id/join",
		"notifications.appointment_id=appointments.id/correlated"}
	if !slices.Equal(joins, wantJoins) {
		t.Errorf("joins = %q, want %q", joins, wantJoins)
	}
	if len(st.OrderBy) != 2 || st.OrderBy[0].Column.String() != "appointments.start_time" || !st.OrderBy[0].Desc ||
		st.OrderBy[0].NullsFirst == nil || *st.OrderBy[0].NullsFirst || st.OrderBy[1].Column.String() != "clients.first_name" {
		t.Errorf("order by = %+v", st.OrderBy)
	}
	if st.Limit == nil || !st.Limit.Known() || st.Limit.Value != 20 || st.Offset == nil || st.Offset.Param != 3 || st.Offset.Known() {
		t.Errorf("limit %+v offset %+v", st.Limit, st.Offset)
	}
	if st.Locking != "FOR UPDATE SKIP LOCKED" {
		t.Errorf("locking = %q", st.Locking)
	}
	var preds []string
	for _, p := range st.Predicates {
		preds = append(preds, pred(p))
	}
	want := []string{"appointments.barber_id eq = param:$1", "appointments.start_time range >= param:$2", "notifications.kind eq = const:'reminder_24h'"}
	if !slices.Equal(preds, want) {
		t.Errorf("predicates = %q, want %q", preds, want)
	}
	if !reflect.DeepEqual(st.Selected, []workload.ColumnRef{{Table: "appointments", Column: "id"}, {Table: "clients", Column: "first_name"}}) {
		t.Errorf("selected = %+v", st.Selected)
	}
}

func TestUnqualifiedColumnsResolveWithTheCatalog(t *testing.T) {
	st, err := Parse("SELECT name FROM appointments a JOIN services s ON s.id = a.service_id WHERE barber_id = $1 ORDER BY start_time")
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Predicates[0].Column; c.Table != "" || !slices.Equal(c.Candidates, []string{"appointments", "services"}) {
		t.Fatalf("before resolution: %+v", c)
	}
	cols := map[string][]string{"appointments": {"barber_id", "start_time", "service_id"}, "services": {"id", "name"}}
	st.ResolveColumns(func(table, column string) bool { return slices.Contains(cols[table], column) })
	if got := st.Predicates[0].Column.String(); got != "appointments.barber_id" {
		t.Errorf("predicate column = %s", got)
	}
	if got := st.OrderBy[0].Column.String(); got != "appointments.start_time" {
		t.Errorf("order by column = %s", got)
	}
	if got := st.Selected[0].String(); got != "services.name" {
		t.Errorf("selected = %s", got)
	}
}

func TestWritesAndGroups(t *testing.T) {
	st, err := Parse("UPDATE notifications SET status = 'sent', attempts = attempts + 1 WHERE id = $1 RETURNING id")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st.SetColumns, []workload.ColumnRef{{Table: "notifications", Column: "status"}, {Table: "notifications", Column: "attempts"}}) {
		t.Errorf("set columns = %+v", st.SetColumns)
	}
	st, err = Parse("INSERT INTO reviews (appointment_id, rating) VALUES ($1, $2) ON CONFLICT (appointment_id) DO UPDATE SET rating = excluded.rating")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.InsertColumns) != 2 || len(st.SetColumns) != 1 || st.SetColumns[0].Column != "rating" {
		t.Errorf("insert columns %+v, set columns %+v", st.InsertColumns, st.SetColumns)
	}
	st, err = Parse("SELECT date_trunc('day', start_time) AS day, count(*) AS n FROM appointments GROUP BY 1 ORDER BY n DESC")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.GroupBy) != 1 || st.GroupBy[0].Expr != "date_trunc('day', start_time)" || st.GroupBy[0].Column != nil {
		t.Errorf("group by = %+v", st.GroupBy)
	}
	if len(st.OrderBy) != 1 || st.OrderBy[0].Expr != "count(*)" || !st.OrderBy[0].Desc || !st.Aggregates {
		t.Errorf("order by = %+v (aggregates %v)", st.OrderBy, st.Aggregates)
	}
}

// pg_stat_statements keeps separate rows for texts that differ only in constants, comments or
// IN-list length; the fingerprint is what merges them.
func TestFingerprintIgnoresConstantsAndComments(t *testing.T) {
	same := []string{
		"SELECT * FROM payments WHERE stripe_payment_intent_id = $1",
		"select * from PAYMENTS where stripe_payment_intent_id = 'pi_123' -- webhook",
		"/* app */ SELECT * FROM payments WHERE stripe_payment_intent_id = 'pi_456'",
	}
	want, err := Fingerprint(same[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range same[1:] {
		if got, err := Fingerprint(s); err != nil || got != want {
			t.Errorf("Fingerprint(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	if other, _ := Fingerprint("SELECT * FROM payments WHERE appointment_id = $1"); other == want {
		t.Error("a different statement has the same fingerprint")
	}
	a, _ := Fingerprint("SELECT 1 FROM t WHERE x IN ($1, $2, $3)")
	b, _ := Fingerprint("SELECT 1 FROM t WHERE x IN ($1 /*, ... */)")
	if a != b {
		t.Errorf("IN lists of different lengths (PG 18's squashed form) fingerprint differently: %s %s", a, b)
	}
}

func TestParseErrors(t *testing.T) {
	_, err := Parse("SELECT * FROM appointments WHERE")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Position == 0 {
		t.Errorf("truncated text: %v (%T)", err, err)
	}
	if _, err := Parse("SELECT 1; SELECT 2"); !errors.Is(err, ErrNotOneStatement) {
		t.Errorf("two statements: %v", err)
	}
	if _, err := Parse("-- only a comment"); !errors.Is(err, ErrNotOneStatement) {
		t.Errorf("no statement: %v", err)
	}
}

// The texts pg_stat_statements can hand over that are not statements get named reasons.
func TestModelNamesTextProblems(t *testing.T) {
	long := "SELECT id FROM clients WHERE " + strings.Repeat("first_name = 'x' OR ", 60)
	long = long[:1023] // cut inside "first_name = 'x' OR ..." at a server's 1024-byte limit
	inString := "SELECT id FROM clients WHERE notes = '" + strings.Repeat("x", 1000)
	cases := []struct {
		text       string
		truncateAt int
		want       workload.TextProblem
	}{
		{"SELECT 1 FROM t WHERE a = $1", 0, workload.TextOK},
		{"", 0, workload.TextUnavailable},
		{"<insufficient privilege>", 0, workload.TextHidden},
		{"SELECT * FROM WHERE", 0, workload.TextUnparsable},
		{"SELECT * FROM t WHERE", 0, workload.TextUnparsable},
		{long, 1024, workload.TextTruncated},
		{long, 0, workload.TextTruncated},
		{inString, 1024, workload.TextTruncated},
		{"SELECT 1; SELECT 2", 0, workload.TextNotOneStatement},
	}
	for _, c := range cases {
		st, problem, _ := ParseText(c.text, c.truncateAt)
		if problem != c.want || (problem == workload.TextOK) != (st != nil) {
			t.Errorf("ParseText(%.40q…) = %v, %q; want %q", c.text, st != nil, problem, c.want)
		}
	}
}

func TestUsesParams(t *testing.T) {
	if !UsesParams("SELECT 1 FROM t WHERE a = $1 AND b = 'x'") || UsesParams("SELECT 1 FROM t WHERE a = '$1'") {
		t.Error("UsesParams misreads parameters")
	}
}

// FuzzParse feeds the model arbitrary text, as pg_stat_statements and users do: it must return a
// statement or a named problem, never crash, and agree with Fingerprint.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM appointments WHERE barber_id = $1 AND start_time >= $2 ORDER BY start_time",
		"UPDATE notifications SET status = 'sent' WHERE id = $1",
		"SELECT * FROM clients WHERE lower(email) = lower($1)",
		"SELECT $1::jsonb @> '{\"a\":1}'",
		"SELECT * FROM t WHERE x IN ($1 /*, ... */)",
		"CREATE INDEX CONCURRENTLY i ON t (a) INCLUDE (b) WHERE c IS NULL",
		"SELECT * FROM appointments WHERE",
		"DO $$ BEGIN PERFORM 1; END $$",
		"WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r ORDER BY 1",
		"SELECT 1 FROM a JOIN b USING (x) WHERE EXISTS (SELECT 1 FROM c WHERE c.y = a.y OR c.z = $1) GROUP BY 1 HAVING count(*) > 2",
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v",
		"<insufficient privilege>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		if !utf8.ValidString(sql) {
			t.Skip()
		}
		st, problem, _ := ParseText(sql, 0)
		if st == nil {
			if problem == workload.TextOK {
				t.Fatal("no statement and no problem")
			}
			return
		}
		fp, err := Fingerprint(sql)
		if err != nil || fp != st.Fingerprint {
			t.Fatalf("Parse fingerprint %q, Fingerprint %q (%v)", st.Fingerprint, fp, err)
		}
		st.ResolveColumns(func(string, string) bool { return true })
		_ = st.TableKeys()
	})
}

func TestPlannable(t *testing.T) {
	cases := map[string]string{
		"SELECT id FROM visits WHERE at > now() - interval $2 AND barber_id = $1": "SELECT id FROM visits WHERE at > (now() - $2::interval) AND barber_id = $1",
		"SELECT 1 FROM t WHERE d = DATE $1":                                       "SELECT 1 FROM t WHERE d = $1::date",
		"SELECT id FROM visits WHERE barber_id = $1":                              "SELECT id FROM visits WHERE barber_id = $1",
		"SELECT interval $1 FROM":                                                 "SELECT interval $1 FROM", // does not parse: unchanged
	}
	for in, want := range cases {
		if got := Plannable(in); got != want {
			t.Errorf("Plannable(%q) = %q, want %q", in, got, want)
		}
	}
}

// Conditions on the output of a CTE or subquery that PostgreSQL plans through (12+ inlines a CTE
// that is not MATERIALIZED) are conditions on the base table; those it cannot push a condition
// into (MATERIALIZED, GROUP BY, LIMIT, a window) keep their conditions to themselves.
func TestConditionsThroughCTEsAndSubqueries(t *testing.T) {
	cases := []struct {
		sql  string
		want []string
	}{
		{`WITH c AS (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1`, []string{"orders.customer_id eq = param:$1"}},
		{`WITH c AS NOT MATERIALIZED (SELECT id, customer_id AS cid FROM orders o WHERE o.status = 'open')
		  SELECT id FROM c WHERE c.cid = $1 ORDER BY c.id`, []string{"orders.status eq = const:'open'", "orders.customer_id eq = param:$1"}},
		{`SELECT s.id FROM (SELECT id, created_at FROM orders) s WHERE s.created_at >= $1`, []string{"orders.created_at range >= param:$1"}},
		{`WITH a AS (SELECT * FROM orders), b AS (SELECT * FROM a) SELECT * FROM b WHERE total > $1`, []string{"orders.total range > param:$1"}},
		// The planner cannot push these conditions down.
		{`WITH c AS MATERIALIZED (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1`, nil},
		{`SELECT * FROM (SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id) s WHERE s.n > $1`, nil},
		{`SELECT * FROM (SELECT * FROM orders ORDER BY id LIMIT 10) s WHERE s.customer_id = $1`, nil},
		{`WITH RECURSIVE c AS (SELECT * FROM orders) SELECT id FROM c WHERE customer_id = $1`, nil},
	}
	for _, c := range cases {
		st, err := Parse(c.sql)
		if err != nil {
			t.Fatal(err)
		}
		var preds []string
		for _, p := range st.Predicates {
			preds = append(preds, pred(p))
		}
		if !slices.Equal(preds, c.want) {
			t.Errorf("%s\npredicates = %q, want %q", c.sql, preds, c.want)
		}
	}
	st, _ := Parse(`WITH c AS (SELECT id, created_at FROM orders) SELECT id FROM c ORDER BY created_at DESC LIMIT 5`)
	if len(st.OrderBy) != 1 || st.OrderBy[0].Column == nil || st.OrderBy[0].Column.String() != "orders.created_at" {
		t.Errorf("order by through a CTE = %+v", st.OrderBy)
	}
}

// A statement on a view is modelled on the view's tables, through the view as the planner plans
// it; a view it cannot plan through (an aggregate) keeps the outer conditions to itself.
func TestConditionsThroughViews(t *testing.T) {
	views := NewViews([]dbstate.View{
		{Schema: "public", Name: "active_orders", Definition: "SELECT id, customer_id, created_at AS placed FROM orders WHERE status <> 'void'"},
		{Schema: "public", Name: "big_spenders", Definition: "SELECT customer_id, sum(total) AS spent FROM orders GROUP BY customer_id"},
		{Schema: "public", Name: "recent_active", Definition: "SELECT * FROM active_orders WHERE placed > now() - interval '1 day'"},
	})
	cases := []struct {
		sql  string
		want []string
	}{
		{`SELECT id FROM active_orders WHERE customer_id = $1 ORDER BY placed`, []string{"orders.status ne <> const:'void'", "orders.customer_id eq = param:$1"}},
		{`SELECT id FROM public.active_orders a WHERE a.placed >= $1`, []string{"orders.status ne <> const:'void'", "orders.created_at range >= param:$1"}},
		{`SELECT * FROM recent_active WHERE customer_id = $1`, []string{"orders.status ne <> const:'void'", "orders.created_at range > expr:now() - '1 day'::interval", "orders.customer_id eq = param:$1"}},
		{`SELECT * FROM big_spenders WHERE customer_id = $1`, nil},
	}
	for _, c := range cases {
		st, err := ParseWith(c.sql, views)
		if err != nil {
			t.Fatal(err)
		}
		var preds []string
		for _, p := range st.Predicates {
			if p.Negated {
				continue
			}
			preds = append(preds, pred(p))
		}
		if !slices.Equal(preds, c.want) || !slices.ContainsFunc(st.Tables, func(r workload.TableRef) bool { return r.Name == "orders" }) {
			t.Errorf("%s\npredicates = %q, want %q; tables %+v", c.sql, preds, c.want, st.Tables)
		}
	}
}
