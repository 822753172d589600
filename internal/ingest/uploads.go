package ingest

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"clearmap/internal/acreage"
	"clearmap/internal/audit"
	"clearmap/internal/features"
	"clearmap/internal/tiles"
)

// Info describes a stored upload.
type Info struct {
	ID          int64     `json:"id"`
	Status      string    `json:"status"`
	Uploader    string    `json:"uploader"`
	ReceivedAt  time.Time `json:"received_at"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"` // as received
	// KeptBytes is how many of them are kept: all of an accepted upload,
	// the first MiB at most of a rejected one.
	KeptBytes int64 `json:"kept_bytes"`
	// Format is how the body held its GeoJSON: document, lines or sequence.
	Format      string     `json:"format"`
	SHA256      string     `json:"sha256"`
	Features    int        `json:"features"`
	RetractedAt *time.Time `json:"retracted_at,omitempty"`
	RetractedBy string     `json:"retracted_by,omitempty"`
	// Receipt is what the sender was told (in Get; omitted in List).
	Receipt *Receipt `json:"receipt,omitempty"`
}

// ErrNotFound means no upload has that id, or the caller may not see it.
var ErrNotFound = errors.New("no such upload")

// Scope limits what a caller sees: an uploader only its own uploads.
type Scope struct {
	// TokenID, when set, restricts to uploads made with that token.
	TokenID *int64
}

const infoColumns = `id, status, uploader, received_at, content_type, size_bytes, kept_bytes, format, sha256, features,
	retracted_at, coalesce(retracted_by, '')`

func scanInfo(row pgx.Row, extra ...any) (Info, error) {
	var i Info
	var sum []byte
	err := row.Scan(append([]any{&i.ID, &i.Status, &i.Uploader, &i.ReceivedAt, &i.ContentType, &i.SizeBytes,
		&i.KeptBytes, &i.Format, &sum, &i.Features, &i.RetractedAt, &i.RetractedBy}, extra...)...)
	i.SHA256 = hex.EncodeToString(sum)
	return i, err
}

// List returns up to limit uploads newest first, older than the upload
// before (0 for the newest).
func List(ctx context.Context, db *pgxpool.Pool, scope Scope, before int64, limit int) ([]Info, error) {
	rows, err := db.Query(ctx, `SELECT `+infoColumns+` FROM uploads
		WHERE ($1::bigint IS NULL OR token_id = $1) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, scope.TokenID, before, limit)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Info, error) { return scanInfo(row) })
	if list == nil {
		list = []Info{}
	}
	return list, err
}

// Get returns one upload with its receipt.
func Get(ctx context.Context, db *pgxpool.Pool, scope Scope, id int64) (Info, error) {
	var receipt Receipt
	i, err := scanInfo(db.QueryRow(ctx, `SELECT `+infoColumns+`, receipt FROM uploads
		WHERE id = $1 AND ($2::bigint IS NULL OR token_id = $2)`, id, scope.TokenID), &receipt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Info{}, ErrNotFound
	}
	i.Receipt = &receipt
	return i, err
}

// WriteRaw writes the kept bytes of an upload to w, chunk by chunk.
func WriteRaw(ctx context.Context, db *pgxpool.Pool, id int64, w io.Writer) error {
	rows, err := db.Query(ctx, "SELECT data FROM upload_chunks WHERE upload_id = $1 ORDER BY seq", id)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ErrNotRetractable means the upload was rejected: none of it counts, so
// there is nothing to retract.
var ErrNotRetractable = errors.New("the upload was rejected: nothing of it counts, so there is nothing to retract")

// Retract stops an accepted upload's clearances from counting. Nothing is
// deleted; the act is audit-logged. Retracting twice changes nothing more.
func Retract(ctx context.Context, db *pgxpool.Pool, id int64, actor string) (Info, error) {
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, "SELECT status FROM uploads WHERE id = $1 FOR UPDATE", id).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case status == "rejected":
			return ErrNotRetractable
		case status == "retracted":
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE uploads SET status = 'retracted', retracted_at = now(), retracted_by = $2
			WHERE id = $1`, id, actor); err != nil {
			return err
		}
		if err := tiles.RecordUploadChange(ctx, tx, id); err != nil {
			return err
		}
		if err := acreage.RemoveUpload(ctx, tx, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "UPDATE clearances SET retracted = true WHERE upload_id = $1", id)
		if err != nil {
			return err
		}
		if err := tiles.RemovePoints(ctx, tx, id); err != nil {
			return err
		}
		if err := features.RemoveUpload(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "upload.retract", "upload "+itoa(id), map[string]any{"clearances": tag.RowsAffected()})
	})
	if err != nil {
		return Info{}, err
	}
	return Get(ctx, db, Scope{}, id)
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
