package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The rendered files themselves are cases under testdata/cli (config_*), run by TestCLICases.

func TestConfigJSON(t *testing.T) {
	r := run(t, "config", "--memory", "32GB", "--cpus", "8", "--profile", "mixed", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		SchemaVersion int    `json:"schema_version"`
		Command       string `json:"command"`
		Result        struct {
			Instance struct {
				Memory  int64 `json:"memory_bytes"`
				Version int   `json:"version"`
			} `json:"instance"`
			Settings []struct {
				Name, Value, Group, Reason string
				Restart                    bool
			} `json:"settings"`
			Connections struct {
				Needed         int `json:"needed"`
				MaxConnections int `json:"max_connections"`
			} `json:"connections"`
			Memory struct {
				WorstCase int64 `json:"worst_case_bytes"`
				Available int64 `json:"available_bytes"`
			} `json:"memory"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	res := doc.Result
	if doc.Command != "config" || res.Instance.Memory != 32<<30 || res.Instance.Version != 18 || len(res.Settings) < 30 {
		t.Errorf("unexpected document: %+v", doc)
	}
	if res.Connections.MaxConnections < res.Connections.Needed || res.Memory.WorstCase > res.Memory.Available || res.Memory.WorstCase == 0 {
		t.Errorf("budgets: %+v %+v", res.Connections, res.Memory)
	}
}

func TestConfigBadInput(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--memory", "16", "--cpus", "4"}, "--memory 16 needs a unit, e.g. --memory 16GB"},
		{[]string{"--memory", "16GB", "--cpus", "0"}, "--cpus 0 is not a CPU count"},
		{[]string{"--memory", "16GB"}, "--cpus is required"},
		{[]string{"--cpus", "4"}, "--memory is required"},
		{[]string{"--memory", "16GB", "--cpus", "4", "--profile", "batch"}, `--profile "batch" is not a profile (want web, oltp, dw, mixed, desktop)`},
		{[]string{"--memory", "16GB", "--cpus", "4", "--pg-version", "12"}, "--pg-version 12 is not supported"},
		{[]string{"--memory", "16GB", "--cpus", "4", "--storage", "tape"}, `--storage "tape" is not a storage kind`},
		{[]string{"--memory", "16GB", "--cpus", "4", "--format", "yaml"}, "unknown --format"},
		{[]string{"--memory", "16GB", "--cpus", "4", "--huge-page-size", "4MB"}, "--huge-page-size"},
		// Two explicit numbers that cannot both hold (the default direct allowance, an assumption,
		// is already cut to 0). Memory that cannot fit is no longer refused: see
		// TestConfigRendersWhatUsersAsk.
		{[]string{"--memory", "16GB", "--cpus", "4", "--max-connections", "50", "--app-instances", "5", "--app-pool-size", "20"}, "--max-connections 50 is below the 103 connections"},
		{[]string{"--memory", "16GB", "--cpus", "4", "--max-connections", "3"}, "--max-connections 3 must be more than superuser_reserved_connections"},
		{[]string{"--detect", "--host-root", "/nonexistent"}, "cannot read /proc/meminfo"},
	}
	for _, c := range cases {
		out := filepath.Join(t.TempDir(), "pgtune.conf")
		r := run(t, append(append([]string{"config"}, c.args...), "--out", out)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line containing %q", c.args, r.code, r.stderr, c.msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%v: %s was written", c.args, out)
		}
		if r.stdout != "" {
			t.Errorf("%v: something rendered on stdout: %q", c.args, r.stdout)
		}
	}
}

// --detect reads a fixture host: a Kubernetes pod limited to 6Gi and half a CPU on a 64GB node.
func TestConfigDetect(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"proc/meminfo":                       "MemTotal:       65859584 kB\n",
		"proc/self/cgroup":                   "0::/\n",
		"sys/fs/cgroup/memory.max":           "6442450944\n",
		"sys/fs/cgroup/cpu.max":              "50000 100000\n",
		"sys/block/nvme0n1/queue/rotational": "0\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "pgtune.conf")
	r := run(t, "config", "--detect", "--host-root", root, "--out", out)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"# detected: memory 6 GB from cgroup limit /sys/fs/cgroup/memory.max",
		"# detected: 1 CPU(s) from cgroup CPU quota /sys/fs/cgroup/cpu.max",
		"# detected: nvme storage",
		"shared_buffers = '1536MB'",
		"effective_io_concurrency = 1000",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered file lacks %q:\n%s", want, text)
		}
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	// An explicit flag wins over detection.
	r = run(t, "config", "--detect", "--host-root", root, "--memory", "4GB", "--format", "json")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"memory_bytes": 4294967296`) {
		t.Errorf("--memory with --detect: exit %d, %s", r.code, r.stderr)
	}
}
