-- The uploads the figures took in, with the transaction that took each in
-- (issue 18: a small upload waited behind a large one for 30-40 s).
--
-- An upload now makes its searches and unions before it locks its
-- districts, against the fields stored when it began, and locks them only
-- to take in what was stored meanwhile and write the figures
-- (internal/acreage/upload.go). "Meanwhile" goes by transaction snapshots,
-- as the tile cache reads tile_changes: the upload keeps the snapshot it
-- began with, and under its locks reads the uploads here whose transaction
-- that snapshot did not see. Rows are kept for a day, far longer than an
-- upload runs.

-- +goose Up
CREATE TABLE acreage_uploads (
    xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    upload_id bigint NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX acreage_uploads_xid ON acreage_uploads (xid);

-- +goose Down
DROP TABLE acreage_uploads;
