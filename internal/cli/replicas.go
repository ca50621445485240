package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/query"
)

// readReplicas reads each --replica-dsn beside the primary snap was collected from. A replica
// that cannot be reached or read is kept with its error, and named as a gap: the report is
// partial (every "unused" becomes unknown), never wrong, and the run goes on; only the primary
// is required. A DSN that does not parse is a usage error.
func (s *sourceFlags) readReplicas(ctx context.Context, fs *flagSet, snap *dbstate.Snapshot, cfgs []*pgx.ConnConfig, log *slog.Logger) error {
	for _, cfg := range cfgs {
		name := collect.NodeName(cfg)
		r, err := s.readReplica(ctx, snap, name, cfg, log)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := fs.e.redactor.String(err.Error())
			log.Warn("a replica could not be read; the report is partial", "replica", name, "error", msg)
			r = dbstate.Replica{Name: name, Error: msg}
			snap.Gaps = append(snap.Gaps, dbstate.Gap{What: "replica " + name,
				Reason: msg + "; its statements and index scans are missing, so no index is called unused"})
		}
		snap.Replicas = append(snap.Replicas, r)
	}
	return nil
}

// replicaConfigs parses every --replica-dsn, before anything connects: a DSN that does not parse
// is a usage error.
func (s *sourceFlags) replicaConfigs(fs *flagSet) ([]*pgx.ConnConfig, error) {
	return parseReplicaDSNs(fs, s.replicaDSNs)
}

// parseReplicaDSNs parses --replica-dsn values; their passwords join what is redacted.
func parseReplicaDSNs(fs *flagSet, dsns []string) ([]*pgx.ConnConfig, error) {
	var out []*pgx.ConnConfig
	for _, dsn := range dsns {
		fs.e.redactor.Add(dsn)
		cfg, err := connect.ParseConfig(dsn, "--replica-dsn")
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: err}
		}
		fs.e.redactor.Add(cfg.Password)
		out = append(out, cfg)
	}
	return out, nil
}

func (s *sourceFlags) readReplica(ctx context.Context, snap *dbstate.Snapshot, name string, cfg *pgx.ConnConfig, log *slog.Logger) (dbstate.Replica, error) {
	// A replica cut off mid-read may never answer (packets dropped, no reset): its read is bounded
	// as a whole, so the run goes on without it. The server-side statement timeout bounds each
	// query; this bounds the network too.
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout+3*s.timeout)
	defer cancel()
	conn, err := connect.Connect(ctx, cfg)
	if err != nil {
		return dbstate.Replica{}, err
	}
	defer conn.Close(context.Background())
	untracked := connect.Untrack(ctx, conn)
	r, err := collect.Replica(ctx, conn, name, snap, collect.Options{
		StatementTimeout: s.timeout, PgtuneVersion: Version(), Log: log, Redact: query.Redact, Untracked: untracked,
	})
	if err != nil {
		return dbstate.Replica{}, fmt.Errorf("read replica %s: %w", connect.Describe(cfg), err)
	}
	return r, nil
}
