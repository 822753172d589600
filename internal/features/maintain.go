package features

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// clearance_days (migration 00023) counts the counted clearances per crop
// and day and keeps their bounding box, for numberMatched and the
// collection's extent; clearance_upload_days holds the same per upload.
// AddUpload and RemoveUpload keep them current. Both run last in their
// transactions, after every advisory lock those take (internal/acreage's),
// and lock the clearance_days rows in (crop, day) order, so they add no
// lock cycle between concurrent uploads and retractions.

// AddUpload counts an upload's new clearances. It runs in the upload's
// transaction, after they are inserted.
func AddUpload(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	// ON CONFLICT works on the row's latest version, so a concurrent
	// upload's sums are added to, never overwritten.
	_, err := tx.Exec(ctx, `
		WITH up AS (
			INSERT INTO clearance_upload_days (upload_id, crop, day, features, min_lon, min_lat, max_lon, max_lat)
			SELECT $1, crop, cleared_on, count(*), min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom))
			FROM clearances WHERE upload_id = $1 AND NOT retracted GROUP BY crop, cleared_on
			RETURNING crop, day, features, min_lon, min_lat, max_lon, max_lat)
		INSERT INTO clearance_days AS d (crop, day, features, min_lon, min_lat, max_lon, max_lat)
		SELECT * FROM up ORDER BY crop, day
		ON CONFLICT (crop, day) DO UPDATE SET features = d.features + excluded.features,
			min_lon = least(d.min_lon, excluded.min_lon), min_lat = least(d.min_lat, excluded.min_lat),
			max_lon = greatest(d.max_lon, excluded.max_lon), max_lat = greatest(d.max_lat, excluded.max_lat)`, uploadID)
	if err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	return nil
}

// RemoveUpload uncounts a retracted upload's clearances. It runs in the
// retraction's transaction.
func RemoveUpload(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	// Lock the days first, then read: under READ COMMITTED the update
	// below then sees every upload committed before it, and an upload
	// still to add to these days waits for this transaction, then widens
	// the box it leaves.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM clearance_days
		WHERE (crop, day) IN (SELECT crop, day FROM clearance_upload_days WHERE upload_id = $1)
		ORDER BY crop, day FOR UPDATE`, uploadID); err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	// A day's box is the union of its other uploads' boxes: a few rows a
	// day, by index.
	if _, err := tx.Exec(ctx, `
		UPDATE clearance_days d SET features = d.features - g.features,
			(min_lon, min_lat, max_lon, max_lat) = (
				SELECT min(u.min_lon), min(u.min_lat), max(u.max_lon), max(u.max_lat) FROM clearance_upload_days u
				WHERE u.crop = d.crop AND u.day = d.day AND u.upload_id <> $1)
		FROM clearance_upload_days g WHERE g.upload_id = $1 AND d.crop = g.crop AND d.day = g.day`, uploadID); err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM clearance_upload_days WHERE upload_id = $1", uploadID); err != nil {
		return fmt.Errorf("clearance days: %w", err)
	}
	return nil
}
