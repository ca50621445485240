package pgconf

import (
	"fmt"
	"time"
)

// maxWALSize is how much WAL each profile lets accumulate between checkpoints: write-heavy
// workloads checkpoint less often (fewer full-page images) at the cost of longer crash recovery.
var maxWALSize = map[Profile]int64{
	ProfileWeb: 4 * GB, ProfileMixed: 8 * GB, ProfileOLTP: 16 * GB, ProfileDW: 16 * GB, ProfileDesktop: 2 * GB,
}

func (p *plan) walSettings() {
	in := p.in
	maxWAL := maxWALSize[in.Profile]
	if s := p.signalFor("settings.checkpoints_requested"); s != nil {
		if b, err := ParseBytes(s.Suggest); err == nil && b > maxWAL {
			maxWAL = b
			p.adjusted("max_wal_size", s)
		}
	}
	p.maxWAL = maxWAL
	minWAL := maxWAL / 4
	p.setBytes("wal", "min_wal_size", minWAL, "a quarter of max_wal_size: recycled segments absorb bursts without new files")
	p.setBytes("wal", "max_wal_size", maxWAL, fmt.Sprintf("checkpoints by time, not by WAL volume, for a %s workload; keep this much free on the WAL disk", in.Profile))
	if in.Profile != ProfileDesktop {
		p.set("wal", "checkpoint_timeout", FormatDuration(15*time.Minute), "fewer checkpoints, fewer full-page images in the WAL; crash recovery stays within minutes")
	}
	p.setReal("wal", "checkpoint_completion_target", 0.9, "spread checkpoint writes over 90 % of the interval")
	if in.Version >= 15 {
		p.set("wal", "wal_compression", "lz4", "compress full-page images: less WAL and replication traffic for little CPU (needs a build with lz4, as Debian, PGDG and the official images have)")
	} else {
		p.set("wal", "wal_compression", "on", "compress full-page images: less WAL for little CPU")
	}
}
