package detect

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bookedbarber/pgtune/pgconf"
)

const meminfo64G = "MemTotal:       65859584 kB\nMemFree:        1000 kB\n"

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestDetect(t *testing.T) {
	tests := []struct {
		name      string
		files     fstest.MapFS
		numCPU    int
		mem       int64
		cpus      int
		storage   pgconf.Storage
		memSource string
	}{
		{
			name:   "bare machine",
			files:  fstest.MapFS{"proc/meminfo": file(meminfo64G)},
			numCPU: 16, mem: 65859584 * pgconf.KB, cpus: 16, memSource: "/proc/meminfo",
		},
		{
			name: "cgroup v2 container with limits (a Kubernetes pod)",
			files: fstest.MapFS{
				"proc/meminfo":             file(meminfo64G),
				"proc/self/cgroup":         file("0::/\n"),
				"sys/fs/cgroup/memory.max": file("8589934592\n"),
				"sys/fs/cgroup/cpu.max":    file("150000 100000\n"),
			},
			numCPU: 16, mem: 8 * pgconf.GB, cpus: 2, memSource: "cgroup limit /sys/fs/cgroup/memory.max",
		},
		{
			name: "cgroup v2 without limits: memory.max says max (timescaledb-docker#297)",
			files: fstest.MapFS{
				"proc/meminfo":     file(meminfo64G),
				"proc/self/cgroup": file("0::/user.slice/session-1.scope\n"),
				"sys/fs/cgroup/user.slice/session-1.scope/memory.max": file("max\n"),
				"sys/fs/cgroup/user.slice/session-1.scope/cpu.max":    file("max 100000\n"),
			},
			numCPU: 8, mem: 65859584 * pgconf.KB, cpus: 8, memSource: "/proc/meminfo",
		},
		{
			name: "cgroup v2: a parent slice holds the limit",
			files: fstest.MapFS{
				"proc/meminfo":                                      file(meminfo64G),
				"proc/self/cgroup":                                  file("0::/machine.slice/pg.service\n"),
				"sys/fs/cgroup/machine.slice/memory.max":            file("17179869184\n"),
				"sys/fs/cgroup/machine.slice/pg.service/memory.max": file("max\n"),
			},
			numCPU: 8, mem: 16 * pgconf.GB, cpus: 8, memSource: "cgroup limit /sys/fs/cgroup/machine.slice/memory.max",
		},
		{
			name: "cgroup v1 with limits",
			files: fstest.MapFS{
				"proc/meminfo":     file(meminfo64G),
				"proc/self/cgroup": file("11:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n"),
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes":  file("4294967296\n"),
				"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  file("400000\n"),
				"sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": file("100000\n"),
			},
			numCPU: 32, mem: 4 * pgconf.GB, cpus: 4, memSource: "cgroup limit /sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
		},
		{
			name: "cgroup v1 without limits",
			files: fstest.MapFS{
				"proc/meminfo":     file(meminfo64G),
				"proc/self/cgroup": file("11:memory:/\n4:cpu,cpuacct:/\n"),
				"sys/fs/cgroup/memory/memory.limit_in_bytes":  file("9223372036854771712\n"),
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  file("-1\n"),
				"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": file("100000\n"),
			},
			numCPU: 32, mem: 65859584 * pgconf.KB, cpus: 32, memSource: "/proc/meminfo",
		},
		{
			name: "storage: all NVMe",
			files: fstest.MapFS{
				"proc/meminfo":                       file(meminfo64G),
				"sys/block/nvme0n1/queue/rotational": file("0\n"),
				"sys/block/nvme1n1/queue/rotational": file("0\n"),
				"sys/block/loop0/queue/rotational":   file("1\n"), // virtual: ignored
			},
			numCPU: 4, mem: 65859584 * pgconf.KB, cpus: 4, storage: pgconf.StorageNVMe, memSource: "/proc/meminfo",
		},
		{
			name: "storage: spinning disks",
			files: fstest.MapFS{
				"proc/meminfo":                   file(meminfo64G),
				"sys/block/sda/queue/rotational": file("1\n"),
				"sys/block/sdb/queue/rotational": file("1\n"),
			},
			numCPU: 4, mem: 65859584 * pgconf.KB, cpus: 4, storage: pgconf.StorageHDD, memSource: "/proc/meminfo",
		},
		{
			name: "storage: a mix is left to --storage",
			files: fstest.MapFS{
				"proc/meminfo":                   file(meminfo64G),
				"sys/block/sda/queue/rotational": file("1\n"),
				"sys/block/sdb/queue/rotational": file("0\n"),
			},
			numCPU: 4, mem: 65859584 * pgconf.KB, cpus: 4, storage: "", memSource: "/proc/meminfo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := Detect(tt.files, tt.numCPU)
			if err != nil {
				t.Fatal(err)
			}
			if h.Memory != tt.mem || h.CPUs != tt.cpus || h.Storage != tt.storage || !strings.HasPrefix(h.MemorySource, tt.memSource) {
				t.Errorf("got %+v; want memory %d (%s), %d CPUs, storage %q", h, tt.mem, tt.memSource, tt.cpus, tt.storage)
			}
		})
	}
}

func TestDetectErrors(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		file  string
	}{
		{"no meminfo", fstest.MapFS{}, "proc/meminfo"},
		{"garbled meminfo", fstest.MapFS{"proc/meminfo": file("MemTotal: lots kB\n")}, "proc/meminfo"},
		{"garbled memory.max", fstest.MapFS{
			"proc/meminfo": file(meminfo64G), "proc/self/cgroup": file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("eight gigabytes\n"),
		}, "sys/fs/cgroup/memory.max"},
		{"garbled cpu.max", fstest.MapFS{
			"proc/meminfo": file(meminfo64G), "proc/self/cgroup": file("0::/\n"),
			"sys/fs/cgroup/cpu.max": file("2\n"),
		}, "sys/fs/cgroup/cpu.max"},
		{"unreadable cgroup file", fstest.MapFS{
			"proc/meminfo": file(meminfo64G), "proc/self/cgroup": file("0::/\n"),
			"sys/fs/cgroup/memory.max": &fstest.MapFile{Mode: fs.ModeDir}, // reading a directory fails
		}, "sys/fs/cgroup/memory.max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Detect(tt.files, 4)
			var de *Error
			if !errors.As(err, &de) || de.File != tt.file || !strings.Contains(err.Error(), "--memory and --cpus") {
				t.Errorf("got %v, want an error naming /%s and the flags to use instead", err, tt.file)
			}
		})
	}
}

func FuzzDetect(f *testing.F) {
	f.Add("MemTotal: 1000 kB\n", "0::/\n", "max", "max 100000")
	f.Add("MemTotal: 65859584 kB\n", "11:memory:/docker/x\n", "4294967296", "150000 100000")
	f.Fuzz(func(t *testing.T, meminfo, cgroup, memMax, cpuMax string) {
		h, err := Detect(fstest.MapFS{
			"proc/meminfo": file(meminfo), "proc/self/cgroup": file(cgroup),
			"sys/fs/cgroup/memory.max": file(memMax), "sys/fs/cgroup/cpu.max": file(cpuMax),
		}, 4)
		if err != nil {
			return
		}
		if h.Memory <= 0 || h.CPUs < 1 || h.CPUs > 4 {
			t.Fatalf("Detect accepted the input and returned %+v", h)
		}
	})
}
