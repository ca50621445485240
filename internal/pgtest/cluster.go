package pgtest

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"
	"github.com/testcontainers/testcontainers-go/network"
)

// ClusterOptions configure a replicated cluster of a test's own.
type ClusterOptions struct {
	// Replicas is how many streaming replicas follow the primary (default 2).
	Replicas int
	// Conf is postgresql.conf text for every node, included last (one configuration for the
	// cluster, as pgtune config --replicas renders it; the image keeps it outside the data
	// directory, so a base backup does not carry it).
	Conf string
	// ReplicaConf is extra text for replica i (hot_standby_feedback, max_standby_streaming_delay),
	// included after everything else on that replica. By default the first replica has
	// hot_standby_feedback on, the others off.
	ReplicaConf []string
}

// Node is one server of a Cluster.
type Node struct {
	// Name is its host name on the cluster's network ("primary", "replica1", ...).
	Name string
	// AdminDSN connects to its postgres database as the superuser, through a loopback port.
	AdminDSN string
	// Slot is the replication slot a replica streams through.
	Slot string

	ctr testcontainers.Container
}

// DSN is the node's DSN for database db.
func (n *Node) DSN(db string) string {
	u, _ := url.Parse(n.AdminDSN)
	u.Path = "/" + db
	return u.String()
}

// Connect opens a connection to database db on the node, closed when the test ends.
func (n *Node) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), n.DSN(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", n.Name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Cluster is a primary and its streaming replicas, each a container of the test image on a
// private Docker network of the test's own: replicas are cloned with pg_basebackup -R through a
// physical replication slot each. The test reaches every node through a loopback-published port
// only. It is removed when the test ends.
type Cluster struct {
	Major    int
	Primary  *Node
	Replicas []*Node

	net *testcontainers.DockerNetwork
}

// NewCluster starts a cluster for the test alone, on the test image of its major. It needs the
// container backend: it skips without one (fails when CI=true).
func NewCluster(t testing.TB, o ClusterOptions) *Cluster {
	t.Helper()
	major := MajorOf(t)
	if major == 0 {
		skipOrFail(t, howToGetOne)
	}
	if o.Replicas == 0 {
		o.Replicas = 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	img := imageFor(major)
	if ok, reason := checkDocker(ctx, img); !ok {
		skipOrFail(t, "a replicated cluster needs the Docker engine and the test image: "+reason)
	}
	prepareTestcontainersEnv()
	nw, err := network.New(ctx, network.WithLabels(map[string]string{ContainerLabel: "true"}))
	if err != nil {
		t.Fatalf("pgtest: create the cluster's network: %v", err)
	}
	t.Cleanup(func() { _ = nw.Remove(context.Background()) })
	c := &Cluster{Major: major, net: nw}
	// Two base backups at once each force a checkpoint, which may remove a segment the other is
	// still streaming ("requested WAL segment … has already been removed"): keep some.
	conf := "wal_keep_size = '256MB'\n" + o.Conf
	if c.Primary, err = c.start(ctx, t, img, "primary", map[string]string{}, conf); err != nil {
		t.Fatalf("pgtest: cluster primary: %v", err)
	}
	c.Replicas = make([]*Node, o.Replicas)
	errs := make([]error, o.Replicas)
	var wg sync.WaitGroup
	for i := range o.Replicas {
		conf := o.Conf + "\n"
		if i < len(o.ReplicaConf) {
			conf += o.ReplicaConf[i]
		} else if i == 0 {
			conf += "hot_standby_feedback = on\n"
		} else {
			conf += "hot_standby_feedback = off\n"
		}
		name := fmt.Sprintf("replica%d", i+1)
		wg.Go(func() {
			env := map[string]string{"PGTUNE_PRIMARY_HOST": "primary", "PGTUNE_SLOT": name}
			c.Replicas[i], errs[i] = c.start(ctx, t, img, name, env, conf)
			if errs[i] == nil {
				c.Replicas[i].Slot = name
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("pgtest: cluster replica%d: %v", i+1, err)
		}
	}
	t.Logf("pgtest: PostgreSQL %d cluster: a primary and %d streaming replicas on network %s (image %s)", major, o.Replicas, nw.Name, img)
	return c
}

func (c *Cluster) start(ctx context.Context, t testing.TB, img, name string, env map[string]string, conf string) (*Node, error) {
	ctr, err := runConfigured(ctx, img, []string{"5432/tcp"}, env, conf,
		// The default bridge carries the published port the test reaches it by (Docker may tie
		// that port to either network, so neither is cut alone); the cluster's own network
		// carries replication.
		network.WithBridgeNetwork(),
		network.WithNetwork([]string{name}, c.net),
	)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", img, err)
	}
	t.Cleanup(func() { _ = testcontainers.TerminateContainer(ctr) })
	endpoint, err := ctr.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		return nil, fmt.Errorf("find the published port of %s: %w", name, err)
	}
	n := &Node{Name: name, AdminDSN: "postgres://postgres@" + endpoint + "/postgres?sslmode=disable", ctr: ctr}
	conn, err := connectRetry(ctx, n.AdminDSN)
	if err != nil {
		return nil, err
	}
	conn.Close(ctx)
	return n, nil
}

// CreateDatabase creates a database on the primary and waits until every replica has it.
func (c *Cluster) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	conn := c.Primary.Connect(t, "postgres")
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	c.WaitReplay(t)
}

// WaitReplay waits (up to a minute) until the replicas (all by default) have replayed the
// primary's WAL as of now: up to its insert position, since with synchronous_commit = off (the
// test image's) a commit may not be written out yet.
func (c *Cluster) WaitReplay(t testing.TB, replicas ...*Node) {
	t.Helper()
	ctx := t.Context()
	if len(replicas) == 0 {
		replicas = c.Replicas
	}
	p, err := pgx.Connect(ctx, c.Primary.AdminDSN)
	if err != nil {
		t.Fatalf("pgtest: connect to the primary: %v", err)
	}
	defer p.Close(context.Background())
	var lsn string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		conn, err := connectRetry(cctx, r.AdminDSN)
		cancel()
		if err != nil {
			t.Fatalf("pgtest: connect to %s: %v", r.Name, err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			var done bool
			if err := conn.QueryRow(ctx, "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", lsn).Scan(&done); err != nil {
				conn.Close(context.Background())
				t.Fatalf("pgtest: replay position of %s: %v", r.Name, err)
			}
			if done {
				break
			}
			if time.Now().After(deadline) {
				conn.Close(context.Background())
				t.Fatalf("pgtest: %s did not replay up to %s within a minute", r.Name, lsn)
			}
			time.Sleep(50 * time.Millisecond)
		}
		conn.Close(context.Background())
	}
}

// Isolate cuts a node off every network, the test's published port included: to everyone it is
// as gone as a host behind a failed switch (connections to it are refused). There is no way
// back. (A replica that falls behind is made with pg_wal_replay_pause or
// recovery_min_apply_delay instead: cutting one network alone may take the published port.)
func (c *Cluster) Isolate(t testing.TB, n *Node) {
	t.Helper()
	cli := dockerClient(t)
	for _, id := range []string{c.net.ID, "bridge"} {
		if _, err := cli.NetworkDisconnect(t.Context(), id, client.NetworkDisconnectOptions{Container: n.ctr.GetContainerID(), Force: true}); err != nil {
			t.Fatalf("pgtest: isolate %s: %v", n.Name, err)
		}
	}
}

// Pause freezes a node's processes (docker pause): its connections stay open and nothing
// answers, as with a host that hangs or a network that drops packets. Unpause thaws it.
func (c *Cluster) Pause(t testing.TB, n *Node) {
	t.Helper()
	if _, err := dockerClient(t).ContainerPause(t.Context(), n.ctr.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
		t.Fatalf("pgtest: pause %s: %v", n.Name, err)
	}
}

// Unpause thaws a node frozen by Pause.
func (c *Cluster) Unpause(t testing.TB, n *Node) {
	t.Helper()
	if _, err := dockerClient(t).ContainerUnpause(t.Context(), n.ctr.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
		t.Fatalf("pgtest: unpause %s: %v", n.Name, err)
	}
}

// Stop stops a node's server (fast shutdown); the container stays for the test's cleanup.
func (c *Cluster) Stop(t testing.TB, n *Node) {
	t.Helper()
	timeout := 10 * time.Second
	if err := n.ctr.Stop(t.Context(), &timeout); err != nil {
		t.Fatalf("pgtest: stop %s: %v", n.Name, err)
	}
}

// Exec runs argv in a node's container as the postgres user and returns its output.
func (n *Node) Exec(ctx context.Context, argv ...string) (string, error) {
	code, r, err := n.ctr.Exec(ctx, argv, tcexec.Multiplexed(), tcexec.WithUser("postgres"))
	if err != nil {
		return "", err
	}
	out, _ := io.ReadAll(r)
	if code != 0 {
		return string(out), fmt.Errorf("%s exited with %d: %s", argv[0], code, tail(string(out), 20))
	}
	return string(out), nil
}

// WriteFile writes a file into a node's container, readable by all (0644).
func (n *Node) WriteFile(ctx context.Context, path, content string) error {
	return n.ctr.CopyToContainer(ctx, []byte(content), path, 0o644)
}

func dockerClient(t testing.TB) client.APIClient {
	t.Helper()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		t.Fatalf("pgtest: the Docker engine: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p.Client()
}
