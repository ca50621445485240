package pgbouncer

import (
	"fmt"
	"io"
	"strings"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// WriteAuthSQL writes the auth_query set-up: a login role that can do nothing but call one
// function, and in every database PgBouncer serves, a SECURITY DEFINER function with a pinned
// search_path that returns a role's password secret unless the role has expired (VALID UNTIL).
// Run it as a superuser (the function reads pg_authid) with psql.
func WriteAuthSQL(w io.Writer, c *Config) error {
	var b strings.Builder
	user := quote.Ident(c.Options.AuthUser)
	b.WriteString("-- PgBouncer auth_query set-up, from pgtune. Run as a superuser with psql: psql -f auth_setup.sql\n")
	b.WriteString("-- The function must exist in every database PgBouncer serves; this file connects to each.\n")
	b.WriteString("-- Set the auth user's password yourself (\\password " + c.Options.AuthUser + ") and put the same password in\n")
	b.WriteString("-- " + c.Options.AuthFile + " as \"" + c.Options.AuthUser + "\" \"<password>\" (mode 0600, owned by the pgbouncer user).\n")
	b.WriteString("-- The admin console's users (admin_users, stats_users) log in through that file too: add a line for each.\n\n")
	fmt.Fprintf(&b, "SELECT %s WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s)\\gexec\n",
		quote.Literal("CREATE ROLE "+user+" LOGIN"), quote.Literal(c.Options.AuthUser))
	for _, db := range c.Options.Databases {
		fmt.Fprintf(&b, "\n\\connect %s\n", quote.Ident(db))
		b.WriteString("CREATE SCHEMA IF NOT EXISTS pgbouncer;\n")
		b.WriteString("REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC;\n")
		fmt.Fprintf(&b, "GRANT USAGE ON SCHEMA pgbouncer TO %s;\n", user)
		b.WriteString(`CREATE OR REPLACE FUNCTION pgbouncer.user_lookup(i_username text, OUT uname text, OUT phash text)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.rolname::text, a.rolpassword::text
    FROM pg_catalog.pg_authid AS a
    WHERE a.rolname OPERATOR(pg_catalog.=) i_username
      AND a.rolcanlogin
      AND NOT a.rolsuper
      AND (a.rolvaliduntil IS NULL OR a.rolvaliduntil OPERATOR(pg_catalog.>) pg_catalog.now())
$$;
REVOKE ALL ON FUNCTION pgbouncer.user_lookup(text) FROM PUBLIC;
`)
		fmt.Fprintf(&b, "GRANT EXECUTE ON FUNCTION pgbouncer.user_lookup(text) TO %s;\n", user)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
