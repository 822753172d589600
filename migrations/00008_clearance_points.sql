-- Below zoom 10 a field is smaller than a pixel, so tiles show it as a point:
-- kept here, with its own index, so no tile computes a million of them.

-- +goose Up
ALTER TABLE clearances ADD COLUMN point_3857 geometry(Point, 3857);
UPDATE clearances SET point_3857 = ST_PointOnSurface(geom_3857);
ALTER TABLE clearances ALTER COLUMN point_3857 SET NOT NULL;
CREATE INDEX clearances_point_3857 ON clearances USING gist (point_3857) WHERE NOT retracted;

-- +goose Down
ALTER TABLE clearances DROP COLUMN point_3857;
