package pgconf

import (
	"strings"
	"testing"
)

// base is a roomy instance the matrix tests vary one field of: PgBouncer in front keeps the
// connection count small, so no memory lever is pulled unless a test wants it.
func base() Instance {
	return Instance{Memory: 16 * GB, CPUs: 4, Storage: StorageSSD, Profile: ProfileWeb, Version: 17, OS: OSLinux, Pooler: true}
}

func mustRecommend(t *testing.T, in Instance) *Config {
	t.Helper()
	c, err := Recommend(in)
	if err != nil {
		t.Fatalf("Recommend(%+v): %v", in, err)
	}
	return c
}

func notesContain(c *Config, sub string) bool {
	for _, n := range c.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}
