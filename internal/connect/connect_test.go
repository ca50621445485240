package connect

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A failed connection says what went wrong once: the server's error when there is one (not the
// TLS refusal sslmode=prefer met first), each distinct attempt otherwise.
func TestConnectErrorSaysItOnce(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgres://app:s3cret@db.internal:5432/booking")
	if err != nil {
		t.Fatal(err)
	}
	twice := errors.New("failed to connect to `user=app database=booking`:\n\t10.0.0.5:5432 (db.internal): dial error: connection refused\n\t10.0.0.5:5432 (db.internal): dial error: connection refused")
	tlsFirst := errors.New("failed to connect to `user=app database=booking`:\n\t10.0.0.5:5432 (db.internal): tls error: server refused TLS connection\n\t10.0.0.5:5432 (db.internal): dial error: timeout")
	auth := fmt.Errorf("failed to connect to `user=app database=booking`:\n\t10.0.0.5:5432 (db.internal): tls error: server refused TLS connection\n\t10.0.0.5:5432 (db.internal): failed SASL auth: %w",
		&pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "app"`})
	for _, c := range []struct {
		err  error
		want string
	}{
		{twice, "cannot connect to app@db.internal:5432/booking: 10.0.0.5:5432 (db.internal): dial error: connection refused; check"},
		{tlsFirst, "cannot connect to app@db.internal:5432/booking: 10.0.0.5:5432 (db.internal): dial error: timeout; check"},
		{auth, `cannot connect to app@db.internal:5432/booking: password authentication failed for user "app"; check the user name and password`},
	} {
		got := ConnectError(cfg, c.err).Error()
		if !strings.HasPrefix(got, c.want) || strings.Contains(got, "s3cret") {
			t.Errorf("\n got %s\nwant %s…", got, c.want)
		}
	}
}
