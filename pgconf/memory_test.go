package pgconf

import "testing"

func TestMemorySettings(t *testing.T) {
	tests := []struct {
		mem                int64
		profile            Profile
		os                 OS
		version            int
		sb, ecs, mwm, avwm string
		hugePages          bool
	}{
		{4 * GB, ProfileWeb, OSLinux, 17, "1GB", "3GB", "256MB", "256MB", false},
		{16 * GB, ProfileWeb, OSLinux, 17, "4GB", "12GB", "1GB", "512MB", true},
		{16 * GB, ProfileOLTP, OSMac, 17, "4GB", "12GB", "1GB", "512MB", false}, // huge pages: Linux only
		{64 * GB, ProfileDW, OSLinux, 17, "16GB", "48GB", "2GB", "512MB", true}, // RAM/8 capped at 2GB
		{64 * GB, ProfileDW, OSWindows, 17, "16GB", "48GB", "2047MB", "512MB", false},
		{64 * GB, ProfileDW, OSWindows, 18, "16GB", "48GB", "2GB", "512MB", false}, // 18 lifted the Windows cap
		{8 * GB, ProfileDesktop, OSLinux, 17, "512MB", "2GB", "512MB", "512MB", false},
		{5632 * MB, ProfileMixed, OSLinux, 16, "1408MB", "4224MB", "352MB", "352MB", false}, // a Kubernetes 5632Mi limit
		{TB, ProfileOLTP, OSLinux, 18, "256GB", "768GB", "2GB", "512MB", true},
	}
	for _, tt := range tests {
		in := base()
		in.Memory, in.Profile, in.OS, in.Version = tt.mem, tt.profile, tt.os, tt.version
		c := mustRecommend(t, in)
		got := []string{c.Get("shared_buffers"), c.Get("effective_cache_size"), c.Get("maintenance_work_mem"), c.Get("autovacuum_work_mem")}
		want := []string{tt.sb, tt.ecs, tt.mwm, tt.avwm}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s %s %s %d: shared_buffers/effective_cache_size/maintenance_work_mem/autovacuum_work_mem = %v, want %v", HumanBytes(tt.mem), tt.profile, tt.os, tt.version, got, want)
				break
			}
		}
		if (c.Get("huge_pages") == "try") != tt.hugePages || (c.HugePages != nil) != tt.hugePages {
			t.Errorf("%s %s %s: huge_pages %q, reservation %v; want huge pages %v", HumanBytes(tt.mem), tt.profile, tt.os, c.Get("huge_pages"), c.HugePages, tt.hugePages)
		}
	}
}

func TestHugePagesReservation(t *testing.T) {
	in := base()
	in.Memory = 64 * GB
	c := mustRecommend(t, in)
	hp := c.HugePages
	if hp == nil || hp.PageSize != 2*MB {
		t.Fatalf("no 2MB huge page reservation: %+v", hp)
	}
	// 16GB of buffers need 8,192 pages; descriptors, WAL buffers and the rest a few hundred more.
	if hp.Pages < 8192+100 || hp.Pages > 8192*105/100 {
		t.Errorf("%d huge pages for 16GB of shared_buffers: want 8,292 to 8,601", hp.Pages)
	}
	if hp.Command == "" {
		t.Error("PostgreSQL 15+ can report the exact figure: the command is missing")
	}
	in.HugePageSize = GB
	if c := mustRecommend(t, in); c.HugePages.Pages != 17 {
		t.Errorf("1GB pages: %d, want 17", c.HugePages.Pages)
	}
}

func TestWorkMemByProfile(t *testing.T) {
	tests := []struct {
		profile Profile
		mem     int64
		want    string
	}{
		{ProfileWeb, 16 * GB, "64MB"}, // the profile's ceiling: PgBouncer keeps max_connections small
		{ProfileOLTP, 16 * GB, "32MB"},
		{ProfileMixed, 16 * GB, "39MB"}, // 2 sorts + 2 hashes per query: the most that fits
		{ProfileMixed, 128 * GB, "128MB"},
		{ProfileDesktop, 16 * GB, "32MB"},
		{ProfileDW, 512 * GB, "1GB"},
		{ProfileDW, 16 * GB, "28MB"}, // two 2GB maintenance sessions and 2 + 2 nodes per query leave this
	}
	for _, tt := range tests {
		in := base()
		in.Profile, in.Memory = tt.profile, tt.mem
		if got := mustRecommend(t, in).Get("work_mem"); got != tt.want {
			t.Errorf("%s %s: work_mem %s, want %s", tt.profile, HumanBytes(tt.mem), got, tt.want)
		}
	}
}
