-- PostGIS provides the geometry types, spatial indexes, geodesic area and the
-- vector tile functions everything else is built on.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;

-- +goose Down
-- Other schemas in the database may use PostGIS too, so it is left in place.
SELECT 1;
