-- A session's CSRF token is derived from its id (auth.CSRFFor), so the
-- hash stored beside it was never read: state that can be derived is not kept.

-- +goose Up
ALTER TABLE sessions DROP COLUMN csrf_hash;

-- +goose Down
ALTER TABLE sessions ADD COLUMN csrf_hash bytea CHECK (octet_length(csrf_hash) = 32);
