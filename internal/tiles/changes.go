package tiles

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// RecordUploadChange notes, in the upload's or retraction's transaction,
// the area whose tiles change: the upload's fields and the districts whose
// figures they change. It must run while the upload's district parts exist:
// after acreage.AddUpload, before acreage.RemoveUpload.
func RecordUploadChange(ctx context.Context, tx pgx.Tx, uploadID int64) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO tile_changes (bbox)
		SELECT ST_SetSRID(ST_Extent(g)::geometry, 4326) FROM (
			SELECT geom AS g FROM clearances WHERE upload_id = $1
			UNION ALL
			SELECT d.geom FROM districts d WHERE d.code IN (
				SELECT p.district_code FROM clearance_parts p JOIN clearances c ON c.id = p.clearance_id
				WHERE c.upload_id = $1)) x
		HAVING count(*) > 0`, uploadID)
	return err
}

// RecordEverywhere notes that every tile changes (a boundary reload).
func RecordEverywhere(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "INSERT INTO tile_changes (bbox) VALUES (NULL)")
	return err
}
