package connect

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactString(t *testing.T) {
	cases := []struct {
		in, want string
		secrets  []string
	}{
		{in: "postgres://app:s3cret@db:5432/booking", want: "postgres://app:xxxxx@db:5432/booking"},
		{in: "dial postgresql://app:p@ss@db/x failed", want: "dial postgresql://app:xxxxx@db/x failed"},
		{in: "host=db password=s3cret user=app", want: "host=db password=xxxxx user=app"},
		{in: "host=db password='s3 cret' user=app", want: "host=db password=xxxxx user=app"},
		{in: "postgres://db/x?password=s3cret&sslmode=disable", want: "postgres://db/x?password=xxxxx&sslmode=disable"},
		{in: "postgres://app@db/x", want: "postgres://app@db/x"},
		{in: "auth failed for hunter22", want: "auth failed for xxxxx", secrets: []string{"postgres://u:hunter22@h/d"}},
		{in: "auth failed for hunter22", want: "auth failed for xxxxx", secrets: []string{"hunter22"}},
		{in: "role pw is %2Fa-b", want: "role pw is xxxxx", secrets: []string{"postgres://u:%2Fa-b@h/d"}},
		{in: "the abc path", want: "the abc path", secrets: []string{"abc"}}, // too short to scrub literally
	}
	for _, c := range cases {
		if got := RedactString(c.in, c.secrets...); got != c.want {
			t.Errorf("RedactString(%q, %q) = %q, want %q", c.in, c.secrets, got, c.want)
		}
	}
}

func TestRedactorAddsSecretsLater(t *testing.T) {
	var r Redactor
	if got := r.String("token tiger-lily"); got != "token tiger-lily" {
		t.Fatalf("redacted before any secret was added: %q", got)
	}
	r.Add("host=h password=tiger-lily")
	if got := r.String("token tiger-lily"); got != "token xxxxx" {
		t.Fatalf("got %q", got)
	}
}

// FuzzRedactURL checks the property pgtune promises: whatever the password, once a connection
// URL holding it has been redacted, the password is gone from the text, and so is any message
// that quotes it.
func FuzzRedactURL(f *testing.F) {
	f.Add("s3cret", "db.internal")
	f.Add("p@ss:w/rd", "10.0.0.1:5432")
	f.Add("with space", "h")
	f.Fuzz(func(t *testing.T, password, host string) {
		if len(password) < minLiteralLen || strings.Contains(Redacted, password) || strings.ContainsAny(host, "@/?# \t\r\n") {
			t.Skip()
		}
		dsn := "postgres://" + url.UserPassword("app", password).String() + "@" + host + "/booking"
		for _, text := range []string{dsn, "failed to connect to " + dsn + ": refused", "password " + password + " rejected"} {
			got := RedactString(text, dsn)
			if strings.Contains(got, password) || strings.Contains(got, url.UserPassword("app", password).String()) {
				t.Fatalf("password %q survives in %q (from %q)", password, got, text)
			}
		}
	})
}

func TestResolvePrecedence(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://from-env/db"}
	getenv := func(k string) string { return env[k] }
	if dsn, src := Resolve("postgres://flag/db", getenv); dsn != "postgres://flag/db" || src != SourceFlag {
		t.Errorf("flag: %q %v", dsn, src)
	}
	if dsn, src := Resolve("", getenv); dsn != "postgres://from-env/db" || src != SourceDatabaseURL {
		t.Errorf("DATABASE_URL: %q %v", dsn, src)
	}
	delete(env, "DATABASE_URL")
	if dsn, src := Resolve("", getenv); dsn != "" || src != SourceLibpqEnv {
		t.Errorf("PG*: %q %v", dsn, src)
	}
}

func TestParseConfig(t *testing.T) {
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGAPPNAME", "someone-else")
	cfg, err := ParseConfig("postgres://app:s3cret@db.example:6543/booking?sslmode=disable", SourceFlag)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.RuntimeParams["application_name"]; got != ApplicationName {
		t.Errorf("application_name = %q", got)
	}
	if got := Describe(cfg); got != "app@db.example:6543/booking" || strings.Contains(got, "s3cret") {
		t.Errorf("Describe = %q", got)
	}
	if cfg.ConnectTimeout == 0 {
		t.Error("no connect timeout")
	}

	_, err = ParseConfig("postgres://app:s3cret@db:notaport/booking", SourceDatabaseURL)
	if err == nil {
		t.Fatal("bad port parsed")
	}
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("error leaks the password or hides the source: %v", err)
	}
}
