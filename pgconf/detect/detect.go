// Package detect reads the local host's size for `pgtune config --detect`: RAM and CPUs as the
// processes in this container or cgroup may use them (cgroup v2 memory.max and cpu.max, cgroup v1
// memory.limit_in_bytes and cpu.cfs_quota_us, whichever is tighter than the machine), and the
// kind of storage from the block devices' rotational flags. Inside Kubernetes that is the pod's
// limits, not the node's RAM — the mistake that gets tuned databases OOM-killed.
//
// It reads through an fs.FS rooted at "/", so tests hand it a fixture tree.
package detect

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/bookedbarber/pgtune/pgconf"
)

// Host is what Detect found, with where each figure came from.
type Host struct {
	Memory       int64  `json:"memory_bytes"`
	MemorySource string `json:"memory_source"`
	CPUs         int    `json:"cpus"`
	CPUSource    string `json:"cpu_source"`
	// Storage is empty when the block devices disagree or cannot be read.
	Storage       pgconf.Storage `json:"storage,omitempty"`
	StorageSource string         `json:"storage_source"`
}

// Error is a host file that exists but cannot be used; the message names the file and the flags
// that replace detection.
type Error struct {
	File string
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("cannot read %s: %v (give --memory and --cpus instead of --detect)", "/"+e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// unlimited is the threshold above which a cgroup v1 limit means "no limit" (the kernel reports
// PAGE_COUNTER_MAX pages, about 8 EiB).
const unlimited = int64(1) << 60

// Detect reads the host through fsys (rooted at "/"); numCPU is runtime.NumCPU(), which already
// honours the CPU affinity mask (cpusets).
func Detect(fsys fs.FS, numCPU int) (Host, error) {
	var h Host
	total, err := memTotal(fsys)
	if err != nil {
		return h, err
	}
	h.Memory, h.MemorySource = total, "/proc/meminfo MemTotal"
	h.CPUs, h.CPUSource = numCPU, "CPUs this process may run on (affinity mask)"

	paths, err := cgroupPaths(fsys)
	if err != nil {
		return h, err
	}
	if limit, file, err := memoryLimit(fsys, paths); err != nil {
		return h, err
	} else if limit > 0 && limit < h.Memory {
		h.Memory, h.MemorySource = limit, "cgroup limit /"+file
	}
	if quota, file, err := cpuLimit(fsys, paths); err != nil {
		return h, err
	} else if quota > 0 && quota < h.CPUs {
		h.CPUs, h.CPUSource = quota, "cgroup CPU quota /"+file
	}
	h.Storage, h.StorageSource = storage(fsys)
	return h, nil
}

func memTotal(fsys fs.FS) (int64, error) {
	const file = "proc/meminfo"
	f, err := fsys.Open(file)
	if err != nil {
		return 0, &Error{file, err}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || kb <= 0 || kb > math.MaxInt64/pgconf.KB {
				return 0, &Error{file, fmt.Errorf("MemTotal %q is not a size", fields[1])}
			}
			return kb * pgconf.KB, nil
		}
	}
	return 0, &Error{file, errors.New("no MemTotal line")}
}

// cgroups maps a controller ("" for the v2 unified hierarchy) to this process's cgroup path.
type cgroups map[string]string

func cgroupPaths(fsys fs.FS) (cgroups, error) {
	const file = "proc/self/cgroup"
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return cgroups{}, nil // not Linux, or no cgroups: the machine's figures stand
	}
	if err != nil {
		return nil, &Error{file, err}
	}
	out := cgroups{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// candidates are the directories to look in for a controller's files, innermost first: the
// process's own cgroup and its ancestors under root, then root itself (inside a container with a
// cgroup namespace the process's path reads "/").
func candidates(root, cgPath string) []string {
	var dirs []string
	p := path.Clean("/" + cgPath)
	for {
		dirs = append(dirs, path.Join(root, p))
		if p == "/" {
			break
		}
		p = path.Dir(p)
	}
	return dirs
}

// readLimit reads the first line of a cgroup file; ok is false when it does not exist.
func readLimit(fsys fs.FS, file string) (value string, ok bool, err error) {
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, &Error{file, err}
	}
	return strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]), true, nil
}

// memoryLimit is the tightest memory limit over the process's cgroup and its ancestors (0: none).
func memoryLimit(fsys fs.FS, cg cgroups) (int64, string, error) {
	best, bestFile := int64(0), ""
	consider := func(file string, parse func(string) (int64, error)) error {
		v, ok, err := readLimit(fsys, file)
		if err != nil || !ok {
			return err
		}
		n, err := parse(v)
		if err != nil {
			return &Error{file, err}
		}
		if n > 0 && (best == 0 || n < best) {
			best, bestFile = n, file
		}
		return nil
	}
	if p, ok := cg[""]; ok {
		for _, dir := range candidates("sys/fs/cgroup", p) {
			if err := consider(dir+"/memory.max", parseV2Max); err != nil {
				return 0, "", err
			}
		}
	}
	if p, ok := cg["memory"]; ok {
		for _, dir := range candidates("sys/fs/cgroup/memory", p) {
			if err := consider(dir+"/memory.limit_in_bytes", parseV1Limit); err != nil {
				return 0, "", err
			}
		}
	}
	return best, bestFile, nil
}

func parseV2Max(v string) (int64, error) {
	if v == "max" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is neither a byte count nor max", v)
	}
	return n, nil
}

func parseV1Limit(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte count", v)
	}
	if n >= unlimited || n < 0 {
		return 0, nil
	}
	return n, nil
}

// cpuLimit is the tightest CPU quota, rounded up to whole CPUs (0: none).
func cpuLimit(fsys fs.FS, cg cgroups) (int, string, error) {
	best, bestFile := 0, ""
	take := func(quota, period float64, file string) {
		if quota <= 0 || period <= 0 {
			return
		}
		n := int(math.Ceil(quota / period))
		if best == 0 || n < best {
			best, bestFile = n, file
		}
	}
	if p, ok := cg[""]; ok {
		for _, dir := range candidates("sys/fs/cgroup", p) {
			file := dir + "/cpu.max"
			v, ok, err := readLimit(fsys, file)
			if err != nil {
				return 0, "", err
			}
			if !ok {
				continue
			}
			f := strings.Fields(v)
			if len(f) != 2 {
				return 0, "", &Error{file, fmt.Errorf("%q is not \"quota period\"", v)}
			}
			if f[0] == "max" {
				continue
			}
			q, err1 := strconv.ParseFloat(f[0], 64)
			per, err2 := strconv.ParseFloat(f[1], 64)
			if err1 != nil || err2 != nil {
				return 0, "", &Error{file, fmt.Errorf("%q is not \"quota period\"", v)}
			}
			take(q, per, file)
		}
	}
	if p, ok := cg["cpu"]; ok {
		// v1 mounts the controller as cpu,cpuacct, usually with a cpu symlink beside it.
		for _, dir := range append(candidates("sys/fs/cgroup/cpu", p), candidates("sys/fs/cgroup/cpu,cpuacct", p)...) {
			qv, ok, err := readLimit(fsys, dir+"/cpu.cfs_quota_us")
			if err != nil {
				return 0, "", err
			}
			if !ok {
				continue
			}
			pv, _, err := readLimit(fsys, dir+"/cpu.cfs_period_us")
			if err != nil {
				return 0, "", err
			}
			q, err1 := strconv.ParseFloat(qv, 64)
			per, err2 := strconv.ParseFloat(pv, 64)
			if err1 != nil || err2 != nil {
				return 0, "", &Error{dir + "/cpu.cfs_quota_us", fmt.Errorf("quota %q, period %q are not numbers", qv, pv)}
			}
			take(q, per, dir+"/cpu.cfs_quota_us")
		}
	}
	return best, bestFile, nil
}

// virtualDevices are block devices that say nothing about the disk under the data.
var virtualDevices = []string{"loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd"}

// storage classifies the physical block devices: all rotational → hdd, all NVMe → nvme, all
// other solid-state → ssd; a mix, or nothing readable, leaves the choice to --storage.
func storage(fsys fs.FS) (pgconf.Storage, string) {
	entries, err := fs.ReadDir(fsys, "sys/block")
	if err != nil {
		return "", "no /sys/block: pass --storage"
	}
	kinds := map[pgconf.Storage][]string{}
	for _, e := range entries {
		name := e.Name()
		if isVirtual(name) {
			continue
		}
		v, ok, err := readLimit(fsys, "sys/block/"+name+"/queue/rotational")
		if err != nil || !ok {
			continue
		}
		switch {
		case v == "1":
			kinds[pgconf.StorageHDD] = append(kinds[pgconf.StorageHDD], name)
		case strings.HasPrefix(name, "nvme"):
			kinds[pgconf.StorageNVMe] = append(kinds[pgconf.StorageNVMe], name)
		default:
			kinds[pgconf.StorageSSD] = append(kinds[pgconf.StorageSSD], name)
		}
	}
	switch len(kinds) {
	case 0:
		return "", "no physical block device found: pass --storage"
	case 1:
		for k, devs := range kinds {
			return k, "/sys/block rotational flags (" + strings.Join(devs, ", ") + ")"
		}
	}
	var parts []string
	for k, devs := range kinds {
		parts = append(parts, fmt.Sprintf("%s: %s", k, strings.Join(devs, ", ")))
	}
	sort.Strings(parts)
	return "", "devices disagree (" + strings.Join(parts, "; ") + "): pass --storage for the data directory's"
}

func isVirtual(name string) bool {
	for _, p := range virtualDevices {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
