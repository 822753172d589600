-- Processes keep copies of two tables in memory: tiles built from the data
-- that tile_changes describes, and the tokens and sessions they have seen. These
-- triggers tell them, at commit, that a copy may be stale; the notification
-- comes from whoever writes, the command line and psql included.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION notify_tile_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clearmap_tile_changes', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER tile_changes_notify AFTER INSERT ON tile_changes
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tile_changes();

-- +goose StatementBegin
CREATE FUNCTION notify_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clearmap_tokens', '');
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER tokens_notify AFTER UPDATE OR DELETE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tokens();
-- A sign-out ends a session everywhere.
CREATE TRIGGER sessions_notify AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tokens();

-- +goose Down
DROP TRIGGER sessions_notify ON sessions;
DROP TRIGGER tokens_notify ON tokens;
DROP FUNCTION notify_tokens();
DROP TRIGGER tile_changes_notify ON tile_changes;
DROP FUNCTION notify_tile_changes();
