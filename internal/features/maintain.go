package features

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// clearance_days (migration 00030) counts the counted clearances per crop
// and day and keeps their bounding box, for numberMatched and the
// collection's extent. AddUpload and RemoveUpload keep it current. Both run
// last in their transactions, after every advisory lock those take
// (internal/acreage's), and lock the rows in (crop, day) order, so they
// add no lock cycle between concurrent uploads and retractions.

// AddUpload counts an upload's new clearances. It runs in the upload's
// transaction, after they are inserted.
func AddUpload(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	// ON CONFLICT works on the row's latest version, so a concurrent
	// upload's sums are added to, never overwritten.
	_, err := tx.Exec(ctx, `
		INSERT INTO clearance_days AS d (crop, day, features, min_lon, min_lat, max_lon, max_lat)
		SELECT crop, cleared_on, count(*), min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom))
		FROM clearances WHERE upload_id = $1 AND NOT retracted
		GROUP BY crop, cleared_on ORDER BY crop, cleared_on
		ON CONFLICT (crop, day) DO UPDATE SET features = d.features + excluded.features,
			min_lon = least(d.min_lon, excluded.min_lon), min_lat = least(d.min_lat, excluded.min_lat),
			max_lon = greatest(d.max_lon, excluded.max_lon), max_lat = greatest(d.max_lat, excluded.max_lat)`, uploadID)
	if err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	return nil
}

// RemoveUpload uncounts a retracted upload's clearances. It runs in the
// retraction's transaction, after they are marked retracted.
func RemoveUpload(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	// Lock the rows first, then read: under READ COMMITTED the update
	// below then sees every clearance committed before it, and an upload
	// still to add to these days waits for this transaction, then widens
	// what it leaves.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM clearance_days
		WHERE (crop, day) IN (SELECT crop, cleared_on FROM clearances WHERE upload_id = $1)
		ORDER BY crop, day FOR UPDATE`, uploadID); err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	// A day's box is measured again only where the retracted fields
	// reached its edge; elsewhere it cannot shrink.
	_, err := tx.Exec(ctx, `
		WITH gone AS (
			SELECT crop, cleared_on AS day, count(*) AS n, min(ST_XMin(geom)) AS min_lon, min(ST_YMin(geom)) AS min_lat,
			       max(ST_XMax(geom)) AS max_lon, max(ST_YMax(geom)) AS max_lat
			FROM clearances WHERE upload_id = $1 AND retracted GROUP BY crop, cleared_on)
		UPDATE clearance_days d SET features = d.features - g.n,
			(min_lon, min_lat, max_lon, max_lat) = (
				SELECT CASE WHEN edge THEN min(ST_XMin(c.geom)) ELSE d.min_lon END,
				       CASE WHEN edge THEN min(ST_YMin(c.geom)) ELSE d.min_lat END,
				       CASE WHEN edge THEN max(ST_XMax(c.geom)) ELSE d.max_lon END,
				       CASE WHEN edge THEN max(ST_YMax(c.geom)) ELSE d.max_lat END
				FROM (SELECT d.features = g.n OR g.min_lon <= d.min_lon OR g.min_lat <= d.min_lat OR g.max_lon >= d.max_lon OR g.max_lat >= d.max_lat AS edge) e
				LEFT JOIN clearances c ON e.edge AND c.crop = d.crop AND c.cleared_on = d.day AND NOT c.retracted
				GROUP BY e.edge)
		FROM gone g WHERE d.crop = g.crop AND d.day = g.day`, uploadID)
	if err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	return nil
}
