// Package audit records administrative acts (token changes, boundary loads,
// retractions, reported figures) in the audit_log table.
package audit

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Record writes one entry inside tx, so the entry exists exactly when the act
// it records was committed. details may be nil.
func Record(ctx context.Context, tx pgx.Tx, actor, action, subject string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4)`,
		actor, action, subject, details)
	return err
}
