package collect

import "testing"

func TestIsInternal(t *testing.T) {
	for q, want := range map[string]bool{
		`SELECT $2 FROM ONLY "public"."clients" x WHERE "id" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x`:                                                                                                                 true,
		`SELECT 1 FROM ONLY "public"."t1" x WHERE "email" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x`:                                                                                                                    true,
		`SELECT 1 FROM ONLY "s"."child" x WHERE $1 OPERATOR(pg_catalog.=) "parent_id" AND $2 OPERATOR(pg_catalog.=) "k" FOR KEY SHARE OF x`:                                                                                true,
		`SELECT 1 FROM "public"."part" x WHERE "id" OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF x`:                                                                                                                          true,
		`DELETE FROM ONLY "public"."appointments" WHERE $1 OPERATOR(pg_catalog.=) "client_id"`:                                                                                                                             true,
		`UPDATE ONLY "public"."appointments" SET "client_id" = NULL WHERE $1 OPERATOR(pg_catalog.=) "client_id"`:                                                                                                           true,
		`SELECT fk."client_id" FROM ONLY "public"."appointments" fk LEFT OUTER JOIN ONLY "public"."clients" pk ON ( pk."id" OPERATOR(pg_catalog.=) fk."client_id") WHERE pk."id" IS NULL AND (fk."client_id" IS NOT NULL)`: true,
		`SELECT 1 FROM clients x WHERE id = $1 FOR KEY SHARE OF x`:                                                                                                                                                         false,
		`SELECT id FROM appointments WHERE client_id = $1`:                                                                                                                                                                 false,
		`DELETE FROM appointments WHERE client_id = $1`:                                                                                                                                                                    false,
	} {
		if got := IsInternal(q); got != want {
			t.Errorf("IsInternal(%q) = %v, want %v", q, got, want)
		}
	}
}
