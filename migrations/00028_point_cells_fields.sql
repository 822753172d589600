-- Low-zoom tiles read their points from point_cells alone (issue 18 item 3).
--
-- A zoom-9 tile at a million fields holds up to 64 × 64 points. Reading them
-- walked point_cells by (z, cx, cy) over every row of the tile's 64 columns,
-- fetched each from the heap, took the lower id of a cell's two crops, and
-- looked up each chosen field in clearances: 12 ms and 13 ms of a 50 ms
-- tile. Now each cell also keeps its choice among all crops (crops 'all'),
-- the chosen field's attributes that the tile shows travel with it (a
-- clearance never changes; a retraction chooses again), and an index finds
-- a tile's cells directly: that tile's points in 0.7 ms, the tiles 40%
-- faster (docs/benchmarks.md).

-- +goose Up
-- Ten zooms and three choices a cell: 24 s at a million fields here, near
-- the statement timeout meant for requests, and more on a larger archive.
SET LOCAL statement_timeout = '1h';
DROP TABLE point_cells;
CREATE TABLE point_cells (
    z            smallint NOT NULL CHECK (z BETWEEN 0 AND 9),
    cx           integer NOT NULL,
    cy           integer NOT NULL,
    -- The fields the choice is among: one crop's, or all.
    crops        text NOT NULL CHECK (crops IN ('poppy', 'cannabis', 'all')),
    -- The chosen field: the lowest id among them whose point lies in the cell.
    clearance_id bigint NOT NULL REFERENCES clearances (id),
    crop         text NOT NULL,
    cleared_on   date NOT NULL,
    area_m2      double precision NOT NULL,
    team         text,
    upload_id    bigint NOT NULL,
    point_3857   geometry(Point, 3857) NOT NULL,
    PRIMARY KEY (z, cx, cy, crops)
);
CREATE INDEX point_cells_clearance ON point_cells (clearance_id);
-- A tile's cells: 64 × 64 of them.
CREATE INDEX point_cells_tile ON point_cells (z, crops, (cx / 64), (cy / 64));
INSERT INTO point_cells (z, cx, cy, crops, clearance_id, crop, cleared_on, area_m2, team, upload_id, point_3857)
SELECT s.z, s.cx, s.cy, k.crops, c.id, c.crop, c.cleared_on, c.area_m2, c.team, c.upload_id, c.point_3857
FROM (SELECT z, cx, cy, min(id) AS all_id, min(id) FILTER (WHERE crop = 'poppy') AS poppy_id,
             min(id) FILTER (WHERE crop = 'cannabis') AS cannabis_id
      FROM (SELECT z.z, c.id, c.crop,
                   floor((ST_X(c.point_3857) + 20037508.342789244) / (40075016.685578488 / (64 << z.z)))::int AS cx,
                   floor((20037508.342789244 - ST_Y(c.point_3857)) / (40075016.685578488 / (64 << z.z)))::int AS cy
            FROM clearances c, generate_series(0, 9) AS z(z) WHERE NOT c.retracted) s
      GROUP BY z, cx, cy) s
CROSS JOIN LATERAL (VALUES ('all', s.all_id), ('poppy', s.poppy_id), ('cannabis', s.cannabis_id)) AS k(crops, id)
JOIN clearances c ON c.id = k.id;

-- +goose Down
SET LOCAL statement_timeout = '1h';
DROP TABLE point_cells;
CREATE TABLE point_cells (
    z            smallint NOT NULL CHECK (z BETWEEN 0 AND 9),
    cx           integer NOT NULL,
    cy           integer NOT NULL,
    clearance_id bigint NOT NULL REFERENCES clearances (id),
    crop         text NOT NULL,
    PRIMARY KEY (z, cx, cy, crop)
);
CREATE INDEX point_cells_clearance ON point_cells (clearance_id);
INSERT INTO point_cells (z, cx, cy, crop, clearance_id)
SELECT z, cx, cy, crop, min(id) FROM (
    SELECT z.z, c.id, c.crop,
           floor((ST_X(c.point_3857) + 20037508.342789244) / (40075016.685578488 / (64 << z.z)))::int AS cx,
           floor((20037508.342789244 - ST_Y(c.point_3857)) / (40075016.685578488 / (64 << z.z)))::int AS cy
    FROM clearances c, generate_series(0, 9) AS z(z) WHERE NOT c.retracted) s
GROUP BY z, cx, cy, crop;
