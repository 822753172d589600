package acreage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/store"
)

// StepBatch is how many pending groups StepPending measures in one
// transaction, and so what an upload into the same district may wait for:
// 0.7 s on average (up to 3 s) for fields over stored ones. Batches of 500
// took 41 s for 81,000 groups, against 32 s in batches of 2,000: each batch
// also updates its district's sums of steps.
const StepBatch = 2000

// StepPending measures the steps of up to StepBatch steps_pending groups of
// one district, in a transaction of its own under that district's lock,
// and returns how many it measured: 0 when none are pending in a district
// it could lock at once (an upload or another server's StepPending holds
// the others). The figures do not change; date ranges that cut those
// groups stop unioning them per request.
func StepPending(ctx context.Context, db *pgxpool.Pool) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared(hashtext($1))", globalLock); err != nil {
			return err
		}
		// A district with pending groups that no one holds: never wait
		// behind an upload, which may measure these groups itself.
		var district string
		err := tx.QueryRow(ctx, `SELECT code FROM (SELECT DISTINCT district_code AS code FROM overlap_groups WHERE steps_pending) d
			WHERE pg_try_advisory_xact_lock(`+districtLock+`) LIMIT 1`).Scan(&district)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		groups, err := ids(ctx, tx, `UPDATE overlap_groups SET stepped = true, steps_pending = false,
			net_m2 = NULL, poppy_m2 = NULL, cannabis_m2 = NULL
			WHERE id IN (SELECT id FROM overlap_groups WHERE steps_pending AND district_code = $1 ORDER BY id LIMIT $2)
			RETURNING id`, district, StepBatch)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createStepDelta+"; SELECT set_config('enable_nestloop', 'off', true)"); err != nil {
			return err
		}
		if err := insertSteps(ctx, tx, groups); err != nil {
			return err
		}
		n = len(groups)
		return applyStepDelta(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("step pending groups: %w", err)
	}
	return n, nil
}

// KeepStepped runs StepPending until no group is pending: at once, after
// each change that changed moves on for (an upload or retraction, by this
// server or another), and every interval, until ctx ends; after a batch's
// worth or more it vacuums the step tables. A failure is logged and tried
// again at the next of those.
func KeepStepped(ctx context.Context, db *pgxpool.Pool, logger *slog.Logger, changed *store.Signal, interval time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var seen uint64
	var last time.Time
	for {
		if version, _ := changed.Version(); version != seen || time.Since(last) >= interval {
			seen, last = version, time.Now()
			stepped, started := 0, time.Now()
			for ctx.Err() == nil {
				n, err := StepPending(ctx, db)
				if err != nil {
					if ctx.Err() == nil {
						logger.Error("measuring overlap steps", "err", err)
					}
					break
				}
				if n == 0 {
					break
				}
				stepped += n
			}
			if stepped > 0 {
				logger.Info("measured overlap steps", "groups", stepped, "duration", time.Since(started).Round(time.Millisecond))
			}
			if stepped >= StepBatch {
				// Each batch rewrites its district's step sums: 38,662
				// groups left 56,000 dead rows beside 118,000 in
				// step_starts, and the dated summary's p50 and p99 at a
				// million fields doubled (5 and 10 ms after this).
				if _, err := db.Exec(ctx, "VACUUM (ANALYZE) step_starts, group_steps, overlap_groups"); err != nil && ctx.Err() == nil {
					logger.Error("vacuuming the step tables", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
