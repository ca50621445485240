package connect

import (
	"regexp"
	"strings"
	"sync"
)

// Redacted replaces a password wherever pgtune prints text.
const Redacted = "xxxxx"

var (
	// scheme://user:password@host — the password is everything up to the last '@' of the authority.
	urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#\s@]*:)([^\s]*)@`)
	// password=secret or password='sec ret' in keyword/value strings and URL query parameters.
	kvPassword = regexp.MustCompile(`(?i)(\b(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// minLiteralLen is the shortest password that is also scrubbed wherever it appears literally.
// Shorter ones would turn ordinary words into asterisks; they are still removed from the
// structural places (URL userinfo, password=) that all known leaks go through.
const minLiteralLen = 4

// RedactString removes passwords from s: the userinfo password of any URL, the value of any
// password= keyword, and each of the given secrets (or connection strings, whose passwords are
// extracted) wherever it appears literally.
func RedactString(s string, secrets ...string) string {
	for _, sec := range secrets {
		for _, p := range passwordsIn(sec) {
			if len(p) >= minLiteralLen {
				s = strings.ReplaceAll(s, p, Redacted)
			}
		}
	}
	s = urlPassword.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlPassword.FindStringSubmatch(m)
		// Keep the host: cut the password at the last '@' so "p@ss@host" loses "p@ss".
		return sub[1] + Redacted + "@"
	})
	return kvPassword.ReplaceAllString(s, "${1}"+Redacted)
}

// passwordsIn returns the password inside a connection string, or the string itself when it is
// not a connection string (a bare secret).
func passwordsIn(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	if m := urlPassword.FindStringSubmatch(s); m != nil {
		out = append(out, m[2], unescapeURL(m[2]))
	}
	for _, m := range kvPassword.FindAllStringSubmatch(s, -1) {
		v := strings.Trim(m[2], "'")
		out = append(out, v, strings.ReplaceAll(v, `\'`, `'`))
	}
	if out == nil && !strings.ContainsAny(s, "=/ ") {
		out = append(out, s)
	}
	return out
}

func unescapeURL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, ok := unhex(s[i+1]); ok {
				if w, ok := unhex(s[i+2]); ok {
					b.WriteByte(v<<4 | w)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Redactor scrubs a growing set of secrets from text. The CLI builds one before it knows the
// connection string (the logger needs it first) and adds the password once it is parsed.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
}

// Add registers secrets (passwords or whole connection strings).
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
}

// String redacts s.
func (r *Redactor) String(s string) string {
	if r == nil {
		return RedactString(s)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return RedactString(s, r.secrets...)
}

// HasPassword reports whether s carries a password: a URL's userinfo password, a password= (or
// sslpassword=) keyword with a value, or a PGPASSWORD= assignment.
func HasPassword(s string) bool {
	if m := urlPassword.FindStringSubmatch(s); m != nil && m[2] != "" {
		return true
	}
	for _, m := range kvPassword.FindAllStringSubmatch(s, -1) {
		if strings.Trim(m[2], "'") != "" {
			return true
		}
	}
	return strings.Contains(strings.ToUpper(s), "PGPASSWORD=")
}
