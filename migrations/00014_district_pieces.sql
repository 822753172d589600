-- Districts cut into pieces of at most 64 vertices, for the tests every
-- uploaded field goes through (does it touch a district, is it inside one,
-- which part lies where). Against whole districts of up to 2,450 vertices
-- those tests took two thirds of an upload's time; a piece is small, and
-- its index finds only the pieces near a field. The pieces of a district
-- cover it exactly and do not overlap. Refilled by every boundary load.

-- +goose Up
CREATE TABLE district_pieces (
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    geom          geometry(Polygon, 4326) NOT NULL
);
CREATE INDEX district_pieces_geom ON district_pieces USING gist (geom);
INSERT INTO district_pieces (district_code, geom)
SELECT code, ST_Subdivide(geom, 64) FROM districts;

-- +goose Down
DROP TABLE district_pieces;
