-- The transaction that wrote each tile change. Caches used to read the
-- changes after the last id they had seen, but ids are handed out as
-- changes are written, not as they commit: a change that commits after one
-- with a higher id was skipped for good, and its tiles stayed stale. A
-- cache now keeps the snapshot of its last read and reads the changes whose
-- transaction that snapshot did not see (internal/tiles/cache.go). Rows
-- written before this migration take its transaction.

-- +goose Up
ALTER TABLE tile_changes ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX tile_changes_xid ON tile_changes (xid);

-- +goose Down
ALTER TABLE tile_changes DROP COLUMN xid;
