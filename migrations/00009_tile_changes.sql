-- Where data changed, so every server's tile cache (and any replica's) can
-- drop exactly the tiles that show it. Written in the same transaction as
-- the change; bbox NULL means everywhere (a boundary reload).

-- +goose Up
CREATE TABLE tile_changes (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now(),
    bbox geometry(Polygon, 4326)
);

-- +goose Down
DROP TABLE tile_changes;
