-- What is kept of an upload, and how its body held its GeoJSON.
--
-- A rejected upload keeps its receipt, the size and sha256 of everything
-- sent, and only the first MiB of its bytes (none once its token's rejected
-- uploads of the last day have used their allowance): kept_bytes says how
-- many are in upload_chunks. Uploads so far kept every byte.
--
-- format (document, lines or sequence) is what /raw serves an accepted
-- upload as, whatever Content-Type its sender claimed; earlier uploads'
-- format is read from the type they were sent with.

-- +goose Up
ALTER TABLE uploads ADD COLUMN kept_bytes bigint, ADD COLUMN format text;
UPDATE uploads SET kept_bytes = size_bytes, format = CASE
    WHEN content_type IN ('application/geo+json-seq', 'application/json-seq') THEN 'sequence'
    WHEN content_type IN ('application/x-ndjson', 'application/ndjson', 'application/jsonl') THEN 'lines'
    ELSE 'document' END;
ALTER TABLE uploads
    ALTER COLUMN kept_bytes SET NOT NULL,
    ALTER COLUMN format SET NOT NULL,
    ADD CONSTRAINT uploads_kept_bytes CHECK (kept_bytes BETWEEN 0 AND size_bytes),
    ADD CONSTRAINT uploads_format CHECK (format IN ('document', 'lines', 'sequence'));

-- +goose Down
ALTER TABLE uploads DROP COLUMN kept_bytes, DROP COLUMN format;
