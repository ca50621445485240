package indexes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// describeName is the prepared-statement name describe parses each text under (a name of its
// own, so that it never meets explain's).
const describeName = "pgtune_whatif_describe"

const formatTypes = connect.Marker + `SELECT t.oid, pg_catalog.format_type(t.oid, NULL) FROM pg_catalog.unnest($1::pg_catalog.oid[]) AS t(oid)`

// Describe learns the parameter types of every text whose types are not known yet, in two round
// trips for all of them (explain would otherwise spend one per text, and every planner session
// one of its own): the texts are parsed and described with the protocol's Parse and Describe,
// each closed again and followed by a sync point of its own, so that a text the server cannot
// parse loses only its own types (explain then plans it the slow way and fails with its own
// error); then the types' names, which the EXECUTE casts need, come in one query.
//
// What the server does for a text here is what PREPARE does for it (parse analysis, no
// planning): it leaves no more in pg_stat_statements than the PREPARE explain would send.
func (w *WhatIf) Describe(ctx context.Context, texts []string) error {
	var todo []string
	seen := map[string]bool{}
	for _, text := range texts {
		text = trimText(text)
		if _, ok := w.types[text]; ok || w.stepwise[text] || seen[text] {
			continue
		}
		seen[text] = true
		todo = append(todo, text)
	}
	if len(todo) == 0 {
		return nil
	}
	p := w.conn.PgConn().StartPipeline(ctx)
	for _, text := range todo {
		p.SendPrepare(describeName, connect.Marker+text, nil)
		p.SendDeallocate(describeName)
		p.SendPipelineSync()
	}
	if err := p.Flush(); err != nil {
		p.Close() //nolint:errcheck // the flush's error is the one to report
		return fmt.Errorf("describe the statements' parameters: %w", err)
	}
	oids := make([][]uint32, len(todo))
	failed := make([]bool, len(todo))
	for i := range todo {
		// Each text's segment: its description (or its error, after which the server skips to
		// the sync), its close, the sync.
		for {
			res, err := p.GetResults()
			if err != nil {
				var pe *pgconn.PgError
				if !errors.As(err, &pe) {
					p.Close() //nolint:errcheck // the connection's error is the one to report
					return fmt.Errorf("describe the statements' parameters: %w", err)
				}
				failed[i] = true
				continue
			}
			if res == nil {
				break
			}
			if sd, ok := res.(*pgconn.StatementDescription); ok {
				oids[i] = sd.ParamOIDs
			}
			if _, ok := res.(*pgconn.PipelineSync); ok {
				break
			}
		}
	}
	if err := p.Close(); err != nil {
		return fmt.Errorf("describe the statements' parameters: %w", err)
	}
	names, err := w.typeNames(ctx, oids)
	if err != nil {
		return err
	}
	for i, text := range todo {
		if failed[i] {
			continue // explain finds out why, on its own
		}
		types := make([]string, len(oids[i]))
		for k, oid := range oids[i] {
			types[k] = names[oid]
		}
		w.types[text] = types
	}
	return nil
}

// typeNames names the types (format_type, as pg_prepared_statements' regtype[] shows them),
// caching them on w.
func (w *WhatIf) typeNames(ctx context.Context, oids [][]uint32) (map[uint32]string, error) {
	if w.typeName == nil {
		w.typeName = map[uint32]string{}
	}
	var missing []uint32
	for _, list := range oids {
		for _, oid := range list {
			if _, ok := w.typeName[oid]; !ok && !slices.Contains(missing, oid) {
				missing = append(missing, oid)
			}
		}
	}
	if len(missing) > 0 {
		rows, err := w.conn.Query(ctx, formatTypes, missing)
		if err != nil {
			return nil, fmt.Errorf("name the statements' parameter types: %w", err)
		}
		for rows.Next() {
			var oid uint32
			var name string
			if err := rows.Scan(&oid, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("name the statements' parameter types: %w", err)
			}
			w.typeName[oid] = name
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("name the statements' parameter types: %w", err)
		}
	}
	return w.typeName, nil
}

// trimText is a statement's text as explain sends it.
func trimText(text string) string {
	return strings.TrimRight(strings.TrimSpace(text), ";")
}
