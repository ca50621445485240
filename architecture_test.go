package pgtune

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the import graph in docs/architecture.md")

const (
	graphBegin = "<!-- import graph: written by TestArchitectureImportGraph from 'go list'; refresh with 'go test . -run TestArchitectureImportGraph -update' -->"
	graphEnd   = "<!-- end of import graph -->"
	module     = "github.com/bookedbarber/pgtune"
)

// The import graph in docs/architecture.md is what 'go list' says, so the doc cannot drift from
// the code: a package that gains or loses an import of the module fails this test until the doc
// is refreshed (and read).
func TestArchitectureImportGraph(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := rel(fields[0])
		var deps []string
		for _, imp := range fields[1:] {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				deps = append(deps, "`"+rel(imp)+"`")
			}
		}
		slices.Sort(deps)
		if len(deps) == 0 {
			deps = []string{"—"}
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s |", pkg, strings.Join(deps, " ")))
	}
	slices.Sort(rows)
	graph := graphBegin + "\n\n| package | imports of this module |\n|---|---|\n" + strings.Join(rows, "\n") + "\n\n" + graphEnd

	path := filepath.Join("docs", "architecture.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(graphBegin)), bytes.Index(doc, []byte(graphEnd))
	if i < 0 || j < i {
		t.Fatalf("%s has no import graph between %q and %q", path, graphBegin, graphEnd)
	}
	current := string(doc[i : j+len(graphEnd)])
	if current == graph {
		return
	}
	if *update {
		fresh := string(doc[:i]) + graph + string(doc[j+len(graphEnd):])
		if err := os.WriteFile(path, []byte(fresh), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the import graph in %s is not the code's; refresh it with 'go test . -run TestArchitectureImportGraph -update' and update the prose around it:\nwant:\n%s", path, graph)
}

func rel(pkg string) string {
	if pkg == module {
		return "pgtune (module root)"
	}
	return strings.TrimPrefix(pkg, module+"/")
}
