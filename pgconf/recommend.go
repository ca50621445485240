package pgconf

import (
	"fmt"
	"strconv"
)

// Setting is one rendered parameter.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Group is the settings group: connections, memory, wal, planner, parallel, autovacuum,
	// observability.
	Group string `json:"group"`
	// Reason says in one line why this value.
	Reason string `json:"reason"`
	// Restart: changing it needs a server restart (a reload is enough otherwise).
	Restart bool `json:"restart"`
}

// Config is pgtune's recommendation for an instance.
type Config struct {
	Instance    Instance         `json:"instance"`
	Settings    []Setting        `json:"settings"`
	Connections ConnectionBudget `json:"connections"`
	Memory      MemoryBudget     `json:"memory"`
	// HugePages is how many huge pages to reserve (vm.nr_hugepages) when huge_pages is used.
	HugePages *HugePages `json:"huge_pages,omitempty"`
	// Notes are what a DBA should know about the result: values lowered to fit, assumptions.
	Notes []string `json:"notes"`
	// Tables are per-table settings for a live server's large tables (before 18).
	Tables []TableSetting `json:"tables,omitempty"`
}

// Get returns a setting's value ("" when not rendered).
func (c *Config) Get(name string) string {
	for _, s := range c.Settings {
		if s.Name == name {
			return s.Value
		}
	}
	return ""
}

// plan carries the numbers the settings groups share while a Config is built.
type plan struct {
	in    Instance
	notes []string

	// connections
	clients     int  // the application's connections (or the pooler's clients)
	clientsSaid bool // clients came from the user, not the profile's default
	poolSize    int  // PgBouncer default_pool_size (pooler only)
	// readClients and readPoolSize are the replicas' side: the application's read connections
	// and PgBouncer's read pool size (Instance.Replicas).
	readClients, readPoolSize int
	// maxWAL is the max_wal_size walSettings chose (max_slot_wal_keep_size is sized from it).
	maxWAL int64
	// directLeft, when set, replaces the default direct allowance: what an explicit
	// max_connections leaves.
	directLeft *int
	// sharedLowered: shared_buffers was lowered from its share of the RAM to fit the connections.
	sharedLowered bool
	budget        ConnectionBudget

	// memory
	sharedBuffers, walBuffers, effectiveCache int64
	maintenanceWorkMem, autovacuumWorkMem     int64
	workMem                                   int64
	hashMemMultiplier                         float64
	memory                                    MemoryBudget

	// parallelism and background work
	maxWorkerProcesses, maxParallelWorkers, perGather, parallelMaintenance int
	autovacuumWorkers                                                      int

	settings []Setting

	// Live evidence (RecommendLive): the server's signals, its settings, the client connections
	// open when it was read, and the evidence each adjusted setting's reason cites.
	signals         []Signal
	live            *liveSettings
	observedClients int
	liveReasons     map[string]string
}

// adjusted records that live evidence moved a setting, for its reason.
func (p *plan) adjusted(name string, s *Signal) {
	if p.liveReasons == nil {
		p.liveReasons = map[string]string{}
	}
	p.liveReasons[name] = s.Title
}

func (p *plan) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// set records a setting. Parameters the major does not have are skipped; the caller gates, this
// is the safety net the property test leans on.
func (p *plan) set(group, name, value, reason string) {
	param, ok := Lookup(name)
	if !ok || !param.InVersion(p.in.Version) {
		return
	}
	if why, ok := p.liveReasons[name]; ok {
		reason += "; raised for the live evidence: " + why
	}
	p.settings = append(p.settings, Setting{Name: name, Value: value, Group: group, Reason: reason,
		Restart: param.NeedsRestart(p.in.Version)})
}

func (p *plan) setBytes(group, name string, b int64, reason string) {
	p.set(group, name, FormatBytes(b), reason)
}

func (p *plan) setInt(group, name string, n int, reason string) {
	p.set(group, name, strconv.Itoa(n), reason)
}

func (p *plan) setReal(group, name string, f float64, reason string) {
	p.set(group, name, strconv.FormatFloat(f, 'f', -1, 64), reason)
}

// Recommend sizes every setting for in. It fails when in does not validate, or when the
// connections the user fixed cannot fit the RAM or max_connections (the error says which and
// what to change).
func Recommend(in Instance) (*Config, error) {
	p := &plan{in: in}
	return p.recommend()
}

func (p *plan) recommend() (*Config, error) {
	in := p.in
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p.sizeClients()
	p.sizeParallel()
	p.sizeMemory()
	if err := p.fit(); err != nil {
		return nil, err
	}

	// Settings, in the order a DBA reads them.
	p.connectionSettings()
	p.memorySettings()
	p.walSettings()
	p.replicationSettings()
	p.plannerSettings()
	p.parallelSettings()
	p.autovacuumSettings()
	p.observabilitySettings()

	for _, s := range p.settings {
		param, _ := Lookup(s.Name)
		if err := param.Check(s.Value, in.Version); err != nil {
			return nil, fmt.Errorf("pgtune bug: rendered %s = %s: %w", s.Name, s.Value, err)
		}
	}
	cfg := &Config{Instance: in, Settings: p.settings, Connections: p.budget, Memory: p.memory,
		HugePages: p.hugePages(), Notes: p.notes, Tables: p.tableSettings()}
	if cfg.Notes == nil {
		cfg.Notes = []string{}
	}
	return cfg, nil
}
