package settings

import (
	"fmt"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/pgconf"
)

// overcommit prices the live settings' worst case the way pgtune config proves its own: every
// backend sorting and hashing at once, every autovacuum worker and two maintenance sessions at
// full memory, on top of shared memory.
func overcommit(snap *dbstate.Snapshot, in pgconf.Instance) *finding.Finding {
	num := func(name string, def float64) float64 {
		if v, ok := pgconf.LiveValue(snap, name); ok {
			return v
		}
		return def
	}
	sb := num("shared_buffers", float64(128*pgconf.MB))
	wm := num("work_mem", float64(4*pgconf.MB))
	hmm := num("hash_mem_multiplier", 2)
	mwm := num("maintenance_work_mem", float64(64*pgconf.MB))
	avwm := num("autovacuum_work_mem", -1)
	if avwm < 0 {
		avwm = mwm
	}
	conns := num("max_connections", 100)
	pw := num("max_parallel_workers", 8)
	avw := num("autovacuum_max_workers", 3)
	sorts, hashes := 1.0, 1.0
	if in.Profile == pgconf.ProfileDW || in.Profile == pgconf.ProfileMixed {
		sorts, hashes = 2, 2
	}
	overhead := float64(4 * pgconf.MB)
	backends := conns + pw
	work := backends * wm * (sorts + hashes*hmm)
	worst := sb + backends*overhead + work + avw*(avwm+overhead) + 2*mwm
	ram := float64(in.Memory)
	if worst <= ram*0.9 {
		return nil
	}
	sev := finding.SeverityMedium
	if worst > ram {
		sev = finding.SeverityHigh
	}
	return &finding.Finding{
		Rule: "settings.memory_overcommit", Kind: finding.KindSettings, Severity: sev,
		Title: fmt.Sprintf("the live settings can ask for %s on a %s machine", pgconf.HumanBytes(int64(worst)), pgconf.HumanBytes(in.Memory)),
		Detail: fmt.Sprintf("If %.0f backends (max_connections + parallel workers) each ran %g sort and %g hash nodes at work_mem × hash_mem_multiplier, beside shared_buffers, the autovacuum workers and two maintenance sessions, the server would need %s: the OOM killer ends such a night. pgtune config sizes work_mem (or the connections, or PgBouncer in front) so the worst case fits.",
			backends, sorts, hashes, pgconf.HumanBytes(int64(worst))),
		Evidence: finding.Facts("ram", pgconf.HumanBytes(in.Memory), "worst_case", pgconf.HumanBytes(int64(worst)),
			"shared_buffers", pgconf.HumanBytes(int64(sb)), "work_mem", pgconf.HumanBytes(int64(wm)), "hash_mem_multiplier", hmm,
			"max_connections", int64(conns), "max_parallel_workers", int64(pw), "sorts_and_hashes", pgconf.HumanBytes(int64(work)),
			"autovacuum_workers", int64(avw), "maintenance_work_mem", pgconf.HumanBytes(int64(mwm))),
		Action: "pgtune config --dsn ... --memory " + pgconf.FormatBytes(in.Memory) + " renders settings whose worst case fits",
	}
}
