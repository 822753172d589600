-- Pieces get ids so that a server keeping the pieces in memory (to place
-- uploaded fields in districts without asking PostgreSQL, internal/boundaries
-- pieces.go) can tell whether its copy is current: every boundary load
-- deletes the pieces and inserts new ones, which take new ids, so the
-- largest id changes with every load that commits.

-- +goose Up
ALTER TABLE district_pieces ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;

-- +goose Down
ALTER TABLE district_pieces DROP COLUMN id;
