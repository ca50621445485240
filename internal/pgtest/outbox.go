package pgtest

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A test that runs inside a major's image (EachMajorWithBinaries) has that image's programs
// only. What it makes for a program this machine has and the image lacks (a report for the
// browser) it hands out with Hand; the top-level test, back on this machine, takes it with
// Handed. Locally the same calls pass the files through a directory of this process.

// outboxVar names the directory Hand writes to inside an image.
const outboxVar = "PGTUNE_TEST_OUTBOX"

var outboxes sync.Map // top-level test name → this machine's directory

func outboxFor(top string) (string, error) {
	if d, ok := outboxes.Load(top); ok {
		return d.(string), nil
	}
	d, err := os.MkdirTemp("", "pgtune-outbox-")
	if err != nil {
		return "", err
	}
	_ = os.Chmod(d, 0o777) // the image's tests run as root, its servers as another user
	actual, loaded := outboxes.LoadOrStore(top, d)
	if loaded {
		os.RemoveAll(d)
	}
	return actual.(string), nil
}

// Hand hands data out to the top-level test as the file name (a base name).
func Hand(t testing.TB, name string, data []byte) {
	t.Helper()
	dir := os.Getenv(outboxVar)
	if dir == "" {
		top, _, _ := strings.Cut(t.Name(), "/")
		var err error
		if dir, err = outboxFor(top); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o644); err != nil {
		t.Fatalf("pgtest: hand out %s: %v", name, err)
	}
}

// InImage reports whether this test binary runs inside a major's image (EachMajorWithBinaries).
func InImage() bool { return os.Getenv(inImageVar) == "1" }

// Handed returns the files t's subtests handed out (by name), here or inside their images, and
// removes them. Inside an image it returns none: the files are the host's.
func Handed(t testing.TB) map[string][]byte {
	t.Helper()
	if InImage() {
		return nil
	}
	dir, err := outboxFor(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { os.RemoveAll(dir); outboxes.Delete(t.Name()) }()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
