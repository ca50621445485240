package query

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/dbstate"
)

// dumpLike is shaped like pg_dump's plain output: psql meta-commands, SET lines, COPY data, DDL
// split into CREATE and ALTER ... ADD CONSTRAINT, partitions attached afterwards, functions with
// dollar-quoted bodies.
const dumpLike = `--
-- PostgreSQL database dump
--
\restrict 4bYt0kEn

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$;
CREATE TABLE public.events (at timestamp with time zone NOT NULL, kind text) PARTITION BY RANGE (at);
CREATE TABLE public.events_2026 (at timestamp with time zone NOT NULL, kind text);
ALTER TABLE ONLY public.events ATTACH PARTITION public.events_2026 FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
CREATE TABLE public.visits (
    id bigint NOT NULL,
    shop_id bigint NOT NULL,
    email text,
    status character varying(20) DEFAULT 'open'::character varying NOT NULL,
    amount numeric(10,2),
    at timestamp(3) without time zone
) WITH (fillfactor='90');
ALTER TABLE public.visits ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.visits_id_seq START WITH 1);
COPY public.visits (id, shop_id, email, status) FROM stdin;
1	2	a@example.com	open
\.
ALTER TABLE ONLY public.visits ADD CONSTRAINT visits_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.visits ADD CONSTRAINT visits_email_key UNIQUE (email);
CREATE INDEX visits_lower ON public.visits USING btree (lower(email) text_pattern_ops);
CREATE INDEX visits_shop ON public.visits USING btree (shop_id, status DESC) INCLUDE (email) WHERE ((status)::text = 'open'::text);
CREATE INDEX visits_trgm ON public.visits USING gin (email public.gin_trgm_ops);
CREATE INDEX events_at ON ONLY public.events USING btree (at);
ALTER TABLE ONLY public.visits ADD CONSTRAINT visits_shop_fkey FOREIGN KEY (shop_id) REFERENCES public.shops(id) NOT VALID;
ALTER TABLE ONLY public.visits REPLICA IDENTITY USING INDEX visits_email_key;
CREATE TRIGGER visits_touch BEFORE UPDATE ON public.visits FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE INDEX orphan ON public.missing USING btree (x);

\unrestrict 4bYt0kEn
`

func TestParseSchemaReadsPgDumpOutput(t *testing.T) {
	s, err := ParseSchema(dumpLike)
	if err != nil {
		t.Fatal(err)
	}
	snap := &dbstate.Snapshot{Tables: s.Tables, Indexes: s.Indexes, Constraints: s.Constraints}
	cat := dbstate.NewCatalog(snap)
	if ev := cat.Table("public.events"); ev == nil || ev.Kind != "partitioned" {
		t.Errorf("events: %+v", ev)
	}
	if p := cat.Table("events_2026"); p == nil || p.Parent != "public.events" {
		t.Errorf("events_2026: %+v", p)
	}
	v := cat.Table("visits")
	if v == nil {
		t.Fatal("visits missing")
	}
	types := map[string]string{}
	for _, c := range v.Columns {
		types[c.Name] = c.Type
	}
	want := map[string]string{"id": "bigint", "status": "character varying(20)", "amount": "numeric(10,2)",
		"at": "timestamp(3) without time zone", "email": "text"}
	for c, ty := range want {
		if types[c] != ty {
			t.Errorf("visits.%s type %q, want %q", c, types[c], ty)
		}
	}
	if !slices.Equal(v.Reloptions, []string{"fillfactor=90"}) || v.ReplicaIdentityIndex != "visits_email_key" {
		t.Errorf("reloptions %v, replica identity %q", v.Reloptions, v.ReplicaIdentityIndex)
	}
	keys := map[string]string{}
	idx := map[string]*dbstate.Index{}
	for _, ix := range cat.Indexes("public.visits") {
		var ks []string
		for _, k := range ix.Keys {
			ks = append(ks, k.String())
		}
		keys[ix.Name] = ix.Method + " " + strings.Join(ks, ", ")
		idx[ix.Name] = ix
	}
	wantKeys := map[string]string{
		"visits_pkey":      "btree id",
		"visits_email_key": "btree email",
		"visits_lower":     "btree (lower(email)) text_pattern_ops",
		"visits_shop":      "btree shop_id, status DESC",
		"visits_trgm":      "gin email public.gin_trgm_ops",
	}
	if len(keys) != len(wantKeys) {
		t.Errorf("visits indexes %v", keys)
	}
	for n, k := range wantKeys {
		if keys[n] != k {
			t.Errorf("%s: %q, want %q", n, keys[n], k)
		}
	}
	if ix := idx["visits_shop"]; ix == nil || !slices.Equal(ix.Include, []string{"email"}) || ix.Predicate != "status::text = 'open'::text" ||
		ix.Definition != "CREATE INDEX visits_shop ON public.visits USING btree (shop_id, status DESC) INCLUDE (email) WHERE status::text = 'open'::text" {
		t.Errorf("visits_shop: %+v", ix)
	}
	if ix := idx["visits_pkey"]; ix == nil || !ix.Primary || ix.Constraint != "visits_pkey" {
		t.Errorf("visits_pkey: %+v", ix)
	}
	if ix := cat.Indexes("public.events"); len(ix) != 1 || !ix[0].Partitioned {
		t.Errorf("events indexes: %+v", ix)
	}
	if len(cat.Indexes("public.missing")) != 0 {
		t.Error("an index of a table the file never creates was kept")
	}
	var fk *dbstate.Constraint
	for _, c := range cat.Constraints("public.visits") {
		if c.Type == "foreign_key" {
			fk = c
		}
	}
	if fk == nil || fk.References != "public.shops" || fk.Validated || !slices.Equal(fk.Columns, []string{"shop_id"}) {
		t.Errorf("foreign key: %+v", fk)
	}
	if len(s.Triggers) != 1 || s.Triggers[0].Name != "visits_touch" || len(s.Extensions) != 1 || s.Extensions[0].Name != "pg_trgm" {
		t.Errorf("triggers %+v, extensions %+v", s.Triggers, s.Extensions)
	}
}

// The demo's own schema file (inline keys, ALTER TABLE constraints, a hand-made index) reads too.
func TestParseSchemaReadsTheBookingSchema(t *testing.T) {
	s, err := ParseSchema(pgtune.BookingSchema)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tables) != 14 || len(s.Indexes) != 14+4+1 {
		t.Errorf("%d tables, %d indexes", len(s.Tables), len(s.Indexes))
	}
}

func TestParseSchemaErrorsNameTheLine(t *testing.T) {
	_, err := ParseSchema("CREATE TABLE a (id int);\n\nCREATE TABLE b (id int,, x int);\n")
	var se *SchemaError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Errorf("err = %v", err)
	}
}

// FuzzParseSchema: schema files come from outside; the reader returns a schema or an error.
func FuzzParseSchema(f *testing.F) {
	f.Add(dumpLike)
	f.Add(pgtune.BookingSchema)
	f.Add("CREATE TABLE t (a int PRIMARY KEY REFERENCES u, b text UNIQUE CHECK (b <> ''));")
	f.Add("COPY t FROM stdin;\n1\n\\.\n")
	f.Fuzz(func(t *testing.T, sql string) {
		if !utf8.ValidString(sql) {
			t.Skip()
		}
		s, err := ParseSchema(sql)
		if err != nil {
			return
		}
		for _, ix := range s.Indexes {
			if ix.Name == "" || ix.Table == "" {
				t.Fatalf("index without a name or table: %+v", ix)
			}
		}
	})
}

// A dump does not say which unique index a foreign key checks through, so every unique index on
// the referenced columns counts as depended on (and is never a generated drop); the primary key
// when the foreign key names no columns.
func TestForeignKeysMarkTheirIndexes(t *testing.T) {
	s, err := ParseSchema(`CREATE TABLE r (id int PRIMARY KEY, code int NOT NULL, other int);
CREATE UNIQUE INDEX r_code_z ON r (code);
CREATE UNIQUE INDEX r_code_a ON r (code);
CREATE UNIQUE INDEX r_code_part ON r (code) WHERE other > 0;
CREATE INDEX r_code_plain ON r (code);
CREATE TABLE c (id int, code int REFERENCES r (code), rid int REFERENCES r);`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ix := range s.Indexes {
		got[ix.Name] = strings.Join(ix.ReferencedBy, ",")
	}
	want := map[string]string{"r_code_z": "c_code_fkey", "r_code_a": "c_code_fkey", "r_code_part": "", "r_code_plain": "", "r_pkey": "c_rid_fkey"}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s referenced by %q, want %q", name, got[name], w)
		}
	}
}
