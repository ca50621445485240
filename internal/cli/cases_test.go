package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLICases runs each directory under testdata/cli as one pgtune invocation, in the way sqlc
// keeps its end-to-end cases: a regression case costs a directory, not a Go function.
//
//	args     the arguments, one per line (no shell quoting: a line is one argument)
//	stdin    optional, what the command reads on its standard input
//	stdout   the expected standard output ("pgtune VERSION" for this build's version)
//	stderr   the expected standard error (absent: empty)
//	exit     the expected exit code
//
// Any other file is an input the arguments name, relative to the case's directory (the
// command runs there). Refresh the expectations with 'go test ./internal/cli -run
// TestCLICases -update' and read the diff. The cases need no database.
func TestCLICases(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", "..", "testdata", "cli"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range entries {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join(root, d.Name())
			raw, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatalf("a case needs an args file: %v", err)
			}
			var args []string
			for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				if line != "" {
					args = append(args, line)
				}
			}
			stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
			t.Chdir(dir)
			var out, errb bytes.Buffer
			code := Run(t.Context(), args, bytes.NewReader(stdin), &out, &errb)
			expect(t, dir, "stdout", versionless(out.String()))
			expect(t, dir, "stderr", versionless(errb.String()))
			expect(t, dir, "exit", fmt.Sprintf("%d\n", code))
		})
	}
	if n == 0 {
		t.Fatalf("no cases under %s", root)
	}
}

// versionless writes this build's version as VERSION, so a release does not rewrite the cases.
func versionless(s string) string {
	return strings.ReplaceAll(s, "pgtune "+Version(), "pgtune VERSION")
}

// expect compares got with the case's file (absent: empty), or writes it with -update.
func expect(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if *update {
		if got == "" {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			return
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s (rerun with -update if the change is intended):\n%s", name, path, firstDiff(string(want), got))
	}
}

// runSubcommand words its errors from the table: a group of one says so without a dangling "or".
func TestRunSubcommandWording(t *testing.T) {
	ran := ""
	leaf := func(name string) *command {
		return &command{name: name, run: func(_ context.Context, c *command, _ *env, args []string) error {
			ran = c.name + " " + strings.Join(args, " ")
			return nil
		}}
	}
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	for _, c := range []struct {
		subs        []*command
		args        []string
		err, ranArg string
	}{
		{[]*command{leaf("g one")}, nil, "g: missing subcommand (one); see 'pgtune help g'", ""},
		{[]*command{leaf("g one"), leaf("g two")}, []string{"three"}, `g: unknown subcommand "three" (want one or two)`, ""},
		{[]*command{leaf("g a"), leaf("g b"), leaf("g c")}, nil, "g: missing subcommand (a, b or c); see 'pgtune help g'", ""},
		{[]*command{leaf("g a"), leaf("g b")}, []string{"b", "-x"}, "", "g b -x"},
	} {
		ran = ""
		g := &command{name: "g", subcommands: c.subs}
		err := runSubcommand(t.Context(), g, e, c.args)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err || ran != c.ranArg {
			t.Errorf("%v: error %q, ran %q; want %q, %q", c.args, got, ran, c.err, c.ranArg)
		}
	}
}
