-- The query values an upload was made with (?crop=, ?cleared_on=, ?team=,
-- ?partial=) change what its bytes mean, so a replay is recognised by the
-- bytes and these values together.

-- +goose Up
ALTER TABLE uploads ADD COLUMN params jsonb NOT NULL DEFAULT '{}';
CREATE INDEX uploads_replay ON uploads (token_id, sha256) WHERE status = 'accepted';

-- +goose Down
DROP INDEX uploads_replay;
ALTER TABLE uploads DROP COLUMN params;
