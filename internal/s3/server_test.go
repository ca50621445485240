package s3_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/internal/s3"
)

// The client against a real S3 server (SeaweedFS, TLS): every call, a listing over pages, keys
// that need escaping, and the errors a wrong key, a wrong secret and a wrong bucket give.
func TestAgainstARealServer(t *testing.T) {
	store := pgtest.NewS3(t, "wal")
	ctx := t.Context()
	c := *store.Client
	c.PageSize = 10
	for i := range 25 {
		if err := c.Put(ctx, "wal", fmt.Sprintf("db 1/wal/%08X+x", i), []byte(strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := c.List(ctx, "wal", "db 1/wal/")
	if err != nil || len(objs) != 25 || objs[3].Key != "db 1/wal/00000003+x" || objs[3].Size != 3 || objs[3].LastModified.IsZero() {
		t.Fatalf("list over pages: %d objects, %+v (%v)", len(objs), objs[:min(len(objs), 4)], err)
	}
	b, err := c.Get(ctx, "wal", "db 1/wal/00000004+x")
	if err != nil || !bytes.Equal(b, []byte("xxxx")) {
		t.Errorf("get: %q %v", b, err)
	}
	if h, err := c.GetHead(ctx, "wal", "db 1/wal/00000010+x", 5); err != nil || string(h) != "xxxxx" {
		t.Errorf("a ranged get of 5 bytes of 16: %q %v", h, err)
	}
	if err := c.Delete(ctx, "wal", "db 1/wal/00000004+x"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "wal", "db 1/wal/00000004+x"); !s3.IsNotFound(err) {
		t.Errorf("get of a deleted object: %v", err)
	}

	for name, tc := range map[string]struct {
		edit func(*s3.Client)
		want string
	}{
		"wrong secret": {func(c *s3.Client) { c.SecretKey = "not-the-secret" }, "check AWS_SECRET_ACCESS_KEY"},
		"wrong key":    {func(c *s3.Client) { c.AccessKey = "NOSUCHKEY" }, "check AWS_"},
		"wrong bucket": {func(c *s3.Client) {}, "no such bucket"},
	} {
		bad := *store.Client
		tc.edit(&bad)
		bucket := "wal"
		if name == "wrong bucket" {
			bucket = "no-such-bucket"
		}
		_, err := bad.List(ctx, bucket, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), store.SecretKey) || strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
