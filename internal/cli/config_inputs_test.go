package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/pgconf"
)

// PGTune's own kind of input (memory, CPUs, connections, profile, storage, version): 60 of them,
// PostgreSQL's default of 100 connections on 1GB among them. Every one renders a file with the
// max_connections asked for (an explicit number wins over any assumption); when no worst case
// can be proven to fit, the file is the tightest config, said loudly on stderr and in the file,
// exit 0; --strict-memory turns exactly those into exit 1 with nothing written.
func TestConfigRendersWhatUsersAsk(t *testing.T) {
	mems := []string{"1GB", "2GB", "4GB", "8GB", "16GB"}
	conns := []int{100, 200, 500}
	profiles := []string{"web", "oltp", "dw", "mixed"}
	storages := []string{"ssd", "hdd", "san"}
	over := 0
	n := 0
	for i, mem := range mems {
		for j, c := range conns {
			for k, prof := range profiles {
				n++
				cpus := []string{"1", "2", "4", "8"}[(i+k)%4]
				version := strconv.Itoa(13 + (i+j+k)%6)
				args := []string{"config", "--memory", mem, "--cpus", cpus, "--profile", prof, "--storage", storages[(i+j)%3],
					"--pg-version", version, "--max-connections", strconv.Itoa(c)}
				name := strings.Join(args[1:], " ")
				r := run(t, append(args, "--format", "json")...)
				var doc struct {
					Result pgconf.Config `json:"result"`
				}
				if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &doc) != nil {
					t.Errorf("%s: exit %d: %s", name, r.code, r.stderr)
					continue
				}
				if got := doc.Result.Get("max_connections"); got != strconv.Itoa(c) {
					t.Errorf("%s: max_connections %s, want %d as given", name, got, c)
				}
				conf := run(t, args...)
				out := filepath.Join(t.TempDir(), "pg.conf")
				strict := run(t, append(args, "--strict-memory", "--out", out)...)
				_, werr := os.Stat(out)
				if doc.Result.Memory.OverBy == 0 {
					if conf.code != ExitOK || strings.Contains(conf.stderr, "worst case needs") || strict.code != ExitOK || werr != nil {
						t.Errorf("%s: fits, yet exit %d / strict %d, stderr %q", name, conf.code, strict.code, conf.stderr+strict.stderr)
					}
					continue
				}
				over++
				if conf.code != ExitOK || !strings.Contains(conf.stderr, "worst case needs") || !strings.Contains(conf.stdout, "OVER the available memory") ||
					!strings.Contains(conf.stdout, "THE WORST CASE DOES NOT FIT") || !strings.Contains(conf.stdout, "max_connections = "+strconv.Itoa(c)) {
					t.Errorf("%s: over the memory: exit %d\nstderr %s\n%s", name, conf.code, conf.stderr, conf.stdout)
				}
				if strict.code != ExitFindings || werr == nil || !strings.Contains(strict.stderr, "--strict-memory") {
					t.Errorf("%s --strict-memory: exit %d, file written %v: %s", name, strict.code, werr == nil, strict.stderr)
				}
			}
		}
	}
	t.Logf("%d inputs: all rendered with the max_connections given; %d the tightest config (over the memory, said loudly)", n, over)
	if over == 0 || over == n {
		t.Errorf("%d of %d over the memory: the matrix should have both kinds", over, n)
	}
}
