-- Reads from streaming standbys (CLEARMAP_READ_DATABASE_URL, issue 19).
--
-- A client that has just written (an upload, a retraction, a reported
-- figure) must read its own write on its next request, whichever server
-- takes it, even when the standbys replay seconds behind. After each write
-- the server records here where the primary's WAL stood
-- (pg_current_wal_insert_lsn()); a read by that token goes to a standby only
-- once the standby has replayed past it (internal/store, Pools). One row per
-- token that has written; analysts never write, so never have one.
--
-- Not in tokens itself: an update of tokens tells every server to forget
-- the tokens it knows (migration 00011), which a write must not do.

-- +goose Up
CREATE TABLE token_writes (
    token_id bigint PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    lsn      pg_lsn NOT NULL
);

-- +goose Down
DROP TABLE token_writes;
