-- District and province outlines simplified in advance for each zoom up to
-- 11, so a low-zoom tile does not simplify 90,000 vertices of districts per
-- request (69 of zoom 5's 70 ms). Tolerance: a quarter of a screen pixel at the
-- zoom (tiles are drawn 256 pixels wide). Refilled by every boundary load
-- (tiles.RebuildDistrictShapes); this fills it for databases loaded before.

-- +goose Up
CREATE TABLE district_shapes (
    z             smallint NOT NULL,
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    geom          geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (z, district_code)
);
CREATE INDEX district_shapes_geom ON district_shapes USING gist (geom);

CREATE TABLE province_shapes (
    z             smallint NOT NULL,
    province_code text NOT NULL REFERENCES provinces (code) ON DELETE CASCADE,
    geom          geometry(MultiPolygon, 3857) NOT NULL,
    PRIMARY KEY (z, province_code)
);
CREATE INDEX province_shapes_geom ON province_shapes USING gist (geom);

INSERT INTO district_shapes (z, district_code, geom)
SELECT z, code, ST_Multi(ST_SimplifyPreserveTopology(geom_3857, 2 * 20037508.342789244 / (1 << z) / 256 / 4))
FROM districts, generate_series(0, 11) AS z;
INSERT INTO province_shapes (z, province_code, geom)
SELECT z, code, ST_Multi(ST_SimplifyPreserveTopology(geom_3857, 2 * 20037508.342789244 / (1 << z) / 256 / 4))
FROM provinces, generate_series(0, 11) AS z;

-- +goose Down
DROP TABLE province_shapes;
DROP TABLE district_shapes;
