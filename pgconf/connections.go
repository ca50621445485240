package pgconf

import "fmt"

// BudgetRow is one line of the connection budget: who holds server connections, how many, and
// how that number was reached.
type BudgetRow struct {
	Source      string `json:"source"`
	Connections int    `json:"connections"`
	Basis       string `json:"basis"`
}

// ConnectionBudget is the one connection budget `pgtune config` and `pgtune pgbouncer` both
// print: everything that can hold a server connection at once, which max_connections must cover.
type ConnectionBudget struct {
	Rows []BudgetRow `json:"rows"`
	// Needed is the sum of the rows.
	Needed int `json:"needed"`
	// MaxConnections is the rendered max_connections (≥ Needed).
	MaxConnections int `json:"max_connections"`
	// ClientConnections is how many connections the application opens (to the pooler, when there
	// is one).
	ClientConnections int `json:"client_connections"`
	// Pooler is PgBouncer's sizing, when one sits in front.
	Pooler *PoolSizing `json:"pooler,omitempty"`
}

// PoolSizing is PgBouncer's share of the budget, per process unless said otherwise.
type PoolSizing struct {
	Hosts     int `json:"hosts"`
	Processes int `json:"processes"` // per host (so_reuseport)
	Pools     int `json:"pools"`     // (database, user) pairs per process
	// ActiveTarget is how many server connections should be busy at once across all poolers:
	// 2 × cores + effective spindles.
	ActiveTarget     int `json:"active_target"`
	DefaultPoolSize  int `json:"default_pool_size"`
	ReservePoolSize  int `json:"reserve_pool_size"`
	MaxDBConnections int `json:"max_db_connections"`
	MaxClientConn    int `json:"max_client_conn"`
	// FileDescriptors is the open-files limit each process needs (ulimit -n / LimitNOFILE).
	FileDescriptors int `json:"file_descriptors"`
	// ServerConnections is what all hosts and processes may open at once.
	ServerConnections int `json:"server_connections"`
}

// SuperuserReserved is superuser_reserved_connections' default, kept for the DBA's way in.
const SuperuserReserved = 3

// profileClients is the client count assumed when the application's is not given: PGTune's
// customary max_connections per profile.
var profileClients = map[Profile]int{
	ProfileWeb: 200, ProfileOLTP: 300, ProfileDW: 40, ProfileMixed: 100, ProfileDesktop: 20,
}

// directRows are the connections that bypass a pooler, itemised (the default allowance).
func (p *plan) directRows() []BudgetRow {
	if p.directLeft != nil {
		return []BudgetRow{{"direct (what --max-connections leaves)", *p.directLeft, "the default allowance (migrations, maintenance, monitoring, backups) cut to fit the max_connections given"}}
	}
	if p.in.DirectConnections > 0 {
		return []BudgetRow{{"direct (--direct-connections)", p.in.DirectConnections, "your allowance for connections that bypass the pool"}}
	}
	if p.in.DirectConnections < 0 {
		return nil
	}
	if p.in.Profile == ProfileDesktop {
		return []BudgetRow{{"tools (psql, migrations, pgtune)", 3, "a developer's tools"}}
	}
	if p.in.Memory < 2*GB {
		return []BudgetRow{{"direct (migrations, maintenance, monitoring)", 4, "one each for a migration, a VACUUM job, monitoring and a spare: a small machine runs them in turn"}}
	}
	return []BudgetRow{
		{"migrations (pgtune migrate)", 2, "the migration and its advisory-lock session"},
		{"maintenance (pgtune maintain run)", 3, "two VACUUM jobs and the runner's lock session"},
		{"monitoring (exporter, pgtune advise)", 3, "a metrics exporter, pgtune and one spare"},
		{"backup control (pgBackRest, pg_basebackup)", 1, "start/stop backup; WAL streaming uses max_wal_senders"},
	}
}

// activeTarget is how many connections should be busy at once: 2 × cores plus the effective
// spindles (the PostgreSQL wiki's and HikariCP's starting point; spindles count only where reads
// wait on seeking disks).
func (p *plan) activeTarget() int {
	spindles := 0
	switch p.in.Storage {
	case StorageHDD:
		spindles = 2
	case StorageSAN:
		spindles = 1
	}
	return 2*p.in.CPUs + spindles
}

// sizeClients sets the client count and the pool size the budget starts from.
func (p *plan) sizeClients() {
	in := p.in
	if in.AppInstances > 0 {
		p.clients, p.clientsSaid = in.AppInstances*in.AppPoolSize, true
	} else {
		p.clients = profileClients[in.Profile]
		p.note("The application's connections are not given: %d (PGTune's customary figure for the %s profile) is assumed; pass --app-instances and --app-pool-size for a budget of your own.", p.clients, in.Profile)
	}
	if obs := int(ceilDiv(int64(p.observedClients)*5, 4)); !p.clientsSaid && obs > p.clients {
		p.note("%d client connections were open on the server when pgtune read it: the budget assumes %d (25 %% more) instead of %d; a quiet moment understates the peak, so pass --app-instances and --app-pool-size if you know them.", p.observedClients, obs, p.clients)
		p.clients = obs
	}
	if in.Pooler {
		per := ceilDiv(int64(p.activeTarget()), int64(in.poolerHosts()*in.poolerProcesses()))
		p.poolSize = max(2, int(per))
	}
	p.buildBudget()
	p.fitMaxConnections()
}

// fitMaxConnections makes the budget's assumptions fit a max_connections the user fixed: an
// explicit number wins over an assumption. What pgtune assumed shrinks to what it leaves: the
// application's connections (the profile's customary count), PgBouncer's pool size (pgtune's
// choice), then the default allowance for direct connections. Only two explicit numbers that
// cannot both hold (--app-instances × --app-pool-size, or --direct-connections, above
// --max-connections) are refused, by checkBudget.
func (p *plan) fitMaxConnections() {
	limit := p.in.MaxConnections
	if limit <= 0 || p.budget.Needed <= limit {
		return
	}
	wanted := p.budget.Needed
	switch {
	case p.in.Pooler:
		before := p.poolSize
		for p.poolSize > 1 && p.budget.Needed > limit {
			p.poolSize--
			p.buildBudget()
		}
		if p.poolSize < before {
			p.note("PgBouncer's default_pool_size lowered from %d to %d so that the budget fits the max_connections %d given (it would need %d).", before, p.poolSize, limit, wanted)
		}
	case !p.clientsSaid:
		before := p.clients
		p.clients = max(1, p.clients-(p.budget.Needed-limit))
		p.buildBudget()
		p.note("max_connections %d as given: the application's share is what it leaves, %d connections (not the %d assumed for the %s profile).", limit, p.clients, before, p.in.Profile)
	}
	if p.budget.Needed > limit && p.in.DirectConnections == 0 {
		app := p.budget.Needed - SuperuserReserved
		for _, r := range p.directRows() {
			app -= r.Connections
		}
		left := max(0, limit-SuperuserReserved-app)
		p.directLeft = &left
		p.buildBudget()
		p.note("max_connections %d as given leaves %d connections for migrations, maintenance, monitoring and backups beside the application: they must take turns.", limit, left)
	}
}

// reservePool is PgBouncer's reserve for bursts: a quarter of the pool, at least one.
func reservePool(pool int) int { return max(1, pool/4) }

// buildBudget itemises the budget from the current client count and pool size.
func (p *plan) buildBudget() {
	in := p.in
	b := ConnectionBudget{ClientConnections: p.clients}
	if in.Pooler {
		hosts, procs, pools := in.poolerHosts(), in.poolerProcesses(), in.pools()
		reserve := reservePool(p.poolSize)
		server := hosts * procs * pools * (p.poolSize + reserve)
		clientsPer := int(ceilDiv(int64(p.clients)*5/4, int64(hosts*procs)))
		maxClient := int(ceilDiv(int64(max(clientsPer, 10)), 10) * 10)
		b.Pooler = &PoolSizing{
			Hosts: hosts, Processes: procs, Pools: pools, ActiveTarget: p.activeTarget(),
			DefaultPoolSize: p.poolSize, ReservePoolSize: reserve,
			MaxDBConnections:  pools * (p.poolSize + reserve),
			MaxClientConn:     maxClient,
			FileDescriptors:   maxClient + pools*(p.poolSize+reserve) + 64,
			ServerConnections: server,
		}
		b.Rows = append(b.Rows, BudgetRow{"PgBouncer pools", server,
			fmt.Sprintf("%d host(s) × %d process(es) × %d pool(s) × (%d pool + %d reserve)", hosts, procs, pools, p.poolSize, reserve)})
	} else {
		basis := fmt.Sprintf("%d instance(s) × %d pooled connections", in.AppInstances, in.AppPoolSize)
		if !p.clientsSaid {
			basis = fmt.Sprintf("assumed for the %s profile", in.Profile)
		}
		b.Rows = append(b.Rows, BudgetRow{"application", p.clients, basis})
	}
	b.Rows = append(b.Rows, p.directRows()...)
	b.Rows = append(b.Rows, BudgetRow{"superuser reserve", SuperuserReserved, "superuser_reserved_connections: the DBA's way in when the rest are taken"})
	for _, r := range b.Rows {
		b.Needed += r.Connections
	}
	b.MaxConnections = int(ceilDiv(int64(b.Needed), 5) * 5)
	if in.MaxConnections > 0 {
		b.MaxConnections = in.MaxConnections
	}
	p.budget = b
}

// checkBudget fails when a max_connections the user fixed cannot hold the budget.
func (p *plan) checkBudget() error {
	if p.budget.MaxConnections >= p.budget.Needed {
		return nil
	}
	fix := "raise --max-connections"
	if p.in.Pooler {
		fix += " or lower --pools / --pooler-processes"
	} else {
		fix += ", put PgBouncer in front (--pooler) or lower --app-pool-size"
	}
	return invalid("max_connections", "%d is below the %d connections the budget needs (see the budget table); %s", p.budget.MaxConnections, p.budget.Needed, fix)
}

func (p *plan) connectionSettings() {
	b := p.budget
	reason := fmt.Sprintf("the connection budget: %d needed (application or pools, direct connections and the superuser reserve), rounded up", b.Needed)
	if p.in.MaxConnections > 0 {
		reason = fmt.Sprintf("as given; the budget needs %d", b.Needed)
	}
	p.setInt("connections", "max_connections", b.MaxConnections, reason)
	if p.in.Version < 14 {
		// 14 made scram-sha-256 the default; 13 still stores md5 secrets, which PgBouncer's
		// scram-sha-256 auth_query (pgtune pgbouncer) cannot verify, and md5 is the weaker hash.
		p.set("connections", "password_encryption", "scram-sha-256",
			"13 stores md5 password secrets by default; SCRAM is the stronger hash and what PgBouncer's scram-sha-256 auth needs (set each role's password again after the change)")
	}
}
