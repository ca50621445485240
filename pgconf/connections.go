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
	// Replica is one read replica's budget, when the primary has replicas (Instance.Replicas):
	// MaxConnections covers it too.
	Replica *ReplicaBudget `json:"replica,omitempty"`
}

// ReplicaBudget is what may hold connections on one read replica at once. The replicas share the
// application's reads; each is sized for its share with one replica out (down, or taken out of
// the pooler's host list), so losing a replica moves load, not errors.
type ReplicaBudget struct {
	Replicas int         `json:"replicas"`
	Rows     []BudgetRow `json:"rows"`
	Needed   int         `json:"needed"`
	// ClientConnections is how many connections the application's read pools open in all (to
	// the pooler's read pool, when there is one).
	ClientConnections int `json:"client_connections"`
	// ReadPool is PgBouncer's pool for the replicas (a second database entry whose host list
	// names every replica), when one sits in front.
	ReadPool *PoolSizing `json:"read_pool,omitempty"`
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
	if in.Replicas > 0 {
		p.readClients = p.clients
		if in.AppInstances > 0 && in.AppReadPoolSize > 0 {
			p.readClients = in.AppInstances * in.AppReadPoolSize
		}
		if in.Pooler {
			// Every replica's cores busy: the read pool spans them all.
			per := ceilDiv(int64(p.activeTarget()*in.Replicas), int64(in.poolerHosts()*in.poolerProcesses()))
			p.readPoolSize = max(2, int(per))
		}
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
	if rb := p.budget.Replica; rb != nil && rb.Needed > limit {
		switch {
		case p.in.Pooler:
			before := p.readPoolSize
			for p.readPoolSize > 1 && p.budget.Replica.Needed > limit {
				p.readPoolSize--
				p.buildBudget()
			}
			if p.readPoolSize < before {
				p.note("PgBouncer's read pool lowered from %d to %d so that a replica's budget fits the max_connections %d given.", before, p.readPoolSize, limit)
			}
		case p.in.AppReadPoolSize == 0 && !p.clientsSaid:
			before := p.readClients
			for p.readClients > 1 && p.budget.Replica.Needed > limit {
				p.readClients--
				p.buildBudget()
			}
			p.note("max_connections %d as given: the application's reads on the replicas are what it leaves, %d connections (not the %d assumed).", limit, p.readClients, before)
		}
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

// poolSizing sizes PgBouncer's pools of pool server connections (per process and pool) for
// clients application connections, on every host and process.
func (p *plan) poolSizing(pool, clients, activeTarget int) *PoolSizing {
	hosts, procs, pools := p.in.poolerHosts(), p.in.poolerProcesses(), p.in.pools()
	reserve := reservePool(pool)
	clientsPer := int(ceilDiv(int64(clients)*5/4, int64(hosts*procs)))
	maxClient := int(ceilDiv(int64(max(clientsPer, 10)), 10) * 10)
	return &PoolSizing{
		Hosts: hosts, Processes: procs, Pools: pools, ActiveTarget: activeTarget,
		DefaultPoolSize: pool, ReservePoolSize: reserve,
		MaxDBConnections:  pools * (pool + reserve),
		MaxClientConn:     maxClient,
		FileDescriptors:   maxClient + pools*(pool+reserve),
		ServerConnections: hosts * procs * pools * (pool + reserve),
	}
}

func poolBasis(ps *PoolSizing) string {
	return fmt.Sprintf("%d host(s) × %d process(es) × %d pool(s) × (%d pool + %d reserve)", ps.Hosts, ps.Processes, ps.Pools, ps.DefaultPoolSize, ps.ReservePoolSize)
}

// buildBudget itemises the budget from the current client count and pool size.
func (p *plan) buildBudget() {
	in := p.in
	b := ConnectionBudget{ClientConnections: p.clients}
	if in.Pooler {
		b.Pooler = p.poolSizing(p.poolSize, p.clients, p.activeTarget())
		b.Pooler.FileDescriptors += 64
		b.Rows = append(b.Rows, BudgetRow{"PgBouncer pools", b.Pooler.ServerConnections, poolBasis(b.Pooler)})
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
	if in.Replicas > 0 {
		b.Replica = p.replicaBudget()
		// One file for every node, and a hot standby refuses to start below its primary's
		// max_connections: the larger budget sets it.
		b.MaxConnections = max(b.MaxConnections, int(ceilDiv(int64(b.Replica.Needed), 5)*5))
	}
	if in.MaxConnections > 0 {
		b.MaxConnections = in.MaxConnections
	}
	p.budget = b
}

// replicaBudget itemises one replica's budget: its share of the reads with one replica out, the
// direct connections a replica takes (monitoring, backups taken from a standby; migrations and
// maintenance run on the primary only) and the superuser reserve.
func (p *plan) replicaBudget() *ReplicaBudget {
	in := p.in
	out := max(in.Replicas-1, 1)
	rb := &ReplicaBudget{Replicas: in.Replicas, ClientConnections: p.readClients}
	spread := fmt.Sprintf("over %d replicas with one out", out)
	switch in.Replicas {
	case 1:
		spread = "all on the one replica"
	case 2:
		spread = "all on one replica while the other is out"
	}
	if in.Pooler {
		rb.ReadPool = p.poolSizing(p.readPoolSize, p.readClients, p.activeTarget()*in.Replicas)
		rb.Rows = append(rb.Rows, BudgetRow{"PgBouncer read pool", int(ceilDiv(int64(rb.ReadPool.ServerConnections), int64(out))),
			poolBasis(rb.ReadPool) + ", " + spread})
	} else {
		basis := fmt.Sprintf("%d instance(s) × %d read connections, %s", in.AppInstances, max(in.AppReadPoolSize, in.AppPoolSize), spread)
		if !p.clientsSaid {
			basis = fmt.Sprintf("as many reads as the %s profile's assumed connections, %s", in.Profile, spread)
		}
		rb.Rows = append(rb.Rows, BudgetRow{"application reads", int(ceilDiv(int64(p.readClients), int64(out))), basis})
	}
	switch {
	case in.DirectConnections > 0:
		rb.Rows = append(rb.Rows, BudgetRow{"direct (--direct-connections)", in.DirectConnections, "your allowance for connections that bypass the pool"})
	case in.DirectConnections == 0:
		rb.Rows = append(rb.Rows,
			BudgetRow{"monitoring (exporter, pgtune advise)", 3, "a metrics exporter, pgtune advise --replica-dsn and one spare"},
			BudgetRow{"backups from a standby", 1, "a base backup taken from the replica (pg_basebackup, pgBackRest backup-standby); its WAL stream uses max_wal_senders"})
	}
	rb.Rows = append(rb.Rows, BudgetRow{"superuser reserve", SuperuserReserved, "superuser_reserved_connections"})
	for _, r := range rb.Rows {
		rb.Needed += r.Connections
	}
	return rb
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

// checkReplicaBudget fails when a max_connections the user fixed cannot hold a replica's budget.
func (p *plan) checkReplicaBudget() error {
	rb := p.budget.Replica
	if rb == nil || p.budget.MaxConnections >= rb.Needed {
		return nil
	}
	return invalid("max_connections", "%d is below the %d connections a replica's budget needs (its share of the reads with one replica out; see the budget table); raise --max-connections, lower --app-read-pool-size, or add replicas", p.budget.MaxConnections, rb.Needed)
}

func (p *plan) connectionSettings() {
	b := p.budget
	reason := fmt.Sprintf("the connection budget: %d needed (application or pools, direct connections and the superuser reserve), rounded up", b.Needed)
	if b.Replica != nil && b.Replica.Needed > b.Needed {
		reason = fmt.Sprintf("a replica's connection budget: %d needed (its share of the reads, monitoring, the superuser reserve; the primary needs %d), rounded up: every node gets the same", b.Replica.Needed, b.Needed)
	} else if b.Replica != nil {
		reason += fmt.Sprintf("; a replica needs %d, and every node gets the same", b.Replica.Needed)
	}
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
