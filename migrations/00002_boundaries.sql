-- Administrative boundaries: provinces (ADM1) and districts (ADM2).
--
-- Geometry is kept twice: in EPSG:4326 for geodesic area and intersection with
-- clearances, and in EPSG:3857 so tile requests never re-project a layer.
-- The rows are replaced by `clearmap load-districts`; nothing references them by
-- foreign key except districts → provinces, so a replacement boundary set may add,
-- rename or drop districts.

-- +goose Up
CREATE TABLE provinces (
    code      text PRIMARY KEY,
    name      text NOT NULL,
    kind      text,
    props     jsonb NOT NULL DEFAULT '{}',
    area_m2   double precision NOT NULL CHECK (area_m2 > 0),
    geom      geometry(MultiPolygon, 4326) NOT NULL,
    geom_3857 geometry(MultiPolygon, 3857) NOT NULL
);
CREATE INDEX provinces_geom ON provinces USING gist (geom);
CREATE INDEX provinces_geom_3857 ON provinces USING gist (geom_3857);

CREATE TABLE districts (
    code          text PRIMARY KEY,
    name          text NOT NULL,
    province_code text NOT NULL REFERENCES provinces (code),
    division      text,
    props         jsonb NOT NULL DEFAULT '{}',
    area_m2       double precision NOT NULL CHECK (area_m2 > 0),
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    geom_3857     geometry(MultiPolygon, 3857) NOT NULL
);
CREATE INDEX districts_province ON districts (province_code);
CREATE INDEX districts_geom ON districts USING gist (geom);
CREATE INDEX districts_geom_3857 ON districts USING gist (geom_3857);

-- +goose Down
DROP TABLE districts;
DROP TABLE provinces;
