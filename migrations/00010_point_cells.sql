-- One field per 4×4-pixel cell of each zoom below 10, chosen in advance, so a
-- low-zoom tile reads at most 64 × 64 points instead of thinning hundreds
-- of thousands per request. Cell (cx, cy) of zoom z spans 1/64 of a tile,
-- counted like tile x and y from the north-west corner of Web Mercator; the
-- field kept is the lowest id among the counted fields whose point lies in it.

-- +goose Up
CREATE TABLE point_cells (
    z            smallint NOT NULL CHECK (z BETWEEN 0 AND 9),
    cx           integer NOT NULL,
    cy           integer NOT NULL,
    clearance_id bigint NOT NULL REFERENCES clearances (id),
    PRIMARY KEY (z, cx, cy)
);
CREATE INDEX point_cells_clearance ON point_cells (clearance_id);
INSERT INTO point_cells (z, cx, cy, clearance_id)
SELECT z, cx, cy, min(id) FROM (
    SELECT z.z, c.id,
           floor((ST_X(c.point_3857) + 20037508.342789244) / (40075016.685578488 / (64 << z.z)))::int AS cx,
           floor((20037508.342789244 - ST_Y(c.point_3857)) / (40075016.685578488 / (64 << z.z)))::int AS cy
    FROM clearances c, generate_series(0, 9) AS z(z) WHERE NOT c.retracted) s
GROUP BY z, cx, cy;

-- +goose Down
DROP TABLE point_cells;
