-- District and province outlines cut to each zoom-12 tile, for the tiles
-- of zoom 12 and up. Such a tile used to clip its districts' and provinces'
-- full outlines (up to 2,450 and 8,412 vertices, read whole from TOAST) for
-- a few square kilometres: two thirds of PostgreSQL's time for a zoom-15
-- tile. Each cut keeps the tile's 64/4096 buffer (internal/tiles), which
-- holds the buffer of every tile inside it at higher zooms. Refilled by
-- every boundary load (tiles.BoundariesChanged); this fills them for
-- databases loaded before.

-- +goose Up
-- zoom12_cuts cuts an outline (EPSG:3857) into its parts in each zoom-12
-- tile it touches, eight by eight tiles a step from zoom 0, so that each
-- clip works on the small part left by the step before.
-- +goose StatementBegin
CREATE FUNCTION zoom12_cuts(outline geometry) RETURNS TABLE (x integer, y integer, geom geometry)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    WITH RECURSIVE cuts (z, x, y, geom) AS (
        SELECT 0, 0, 0, outline
        UNION ALL
        SELECT c.z + 3, k.x, k.y, k.geom FROM cuts c
        CROSS JOIN LATERAL (
            SELECT kx AS x, ky AS y, ST_ClipByBox2D(c.geom, env) AS geom
            FROM generate_series(c.x * 8, c.x * 8 + 7) kx, generate_series(c.y * 8, c.y * 8 + 7) ky,
                 ST_TileEnvelope(c.z + 3, kx, ky, margin => 64.0 / 4096) env
            WHERE env && c.geom) k
        WHERE c.z < 12 AND NOT ST_IsEmpty(k.geom))
    SELECT x, y, ST_Multi(ST_CollectionExtract(geom, 3)) FROM cuts
    WHERE z = 12 AND NOT ST_IsEmpty(ST_CollectionExtract(geom, 3))
$$;
-- +goose StatementEnd

CREATE TABLE district_cuts (
    x             integer NOT NULL,
    y             integer NOT NULL,
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    geom          geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (x, y, district_code)
);

CREATE TABLE province_cuts (
    x             integer NOT NULL,
    y             integer NOT NULL,
    province_code text NOT NULL REFERENCES provinces (code) ON DELETE CASCADE,
    geom          geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (x, y, province_code)
);

INSERT INTO district_cuts (x, y, district_code, geom)
SELECT c.x, c.y, d.code, c.geom FROM districts d, zoom12_cuts(d.geom_3857) c;
INSERT INTO province_cuts (x, y, province_code, geom)
SELECT c.x, c.y, p.code, c.geom FROM provinces p, zoom12_cuts(p.geom_3857) c;

-- +goose Down
DROP TABLE province_cuts;
DROP TABLE district_cuts;
DROP FUNCTION zoom12_cuts(geometry);
