-- The version of what tiles from zoom 12 up draw from memory (issue 18):
-- the district and province cuts, the rivers, the places and the labels.
-- A boundary or context load raises it in its transaction
-- (tiles.AllChanged); each such tile's statement reads it, so a server
-- that holds an older version reads them again before it answers.

-- +goose Up
CREATE TABLE static_layers (
    version bigint NOT NULL
);
INSERT INTO static_layers (version) VALUES (1);
-- One row, always.
CREATE UNIQUE INDEX static_layers_one_row ON static_layers ((true));

-- +goose Down
DROP TABLE static_layers;
