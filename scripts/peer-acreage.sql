-- The peer pipeline's acreage (issue 18): what a GIS user without clearmap
-- would run after loading the fields with ogr2ogr (table fields, geometry
-- geom) and the districts (table districts_src): districts cut with
-- ST_Subdivide, fields clipped to the pieces with ST_Intersection, a union
-- per district (both crops: SPEC §3.3), geodesic area. Everything is recomputed on every
-- load. scripts/bench-growth.sh runs it with psql and times it.

SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS peer_pieces AS
SELECT district_code AS code, ST_Subdivide(geom, 256) AS geom FROM districts_src;
CREATE INDEX IF NOT EXISTS peer_pieces_geom ON peer_pieces USING gist (geom);

DROP TABLE IF EXISTS peer_acreage;
CREATE TABLE peer_acreage AS
SELECT code, ST_Area(ST_Union(piece)::geography) / 4046.8564224 AS acres
FROM (SELECT p.code,
             CASE WHEN ST_Within(f.geom, p.geom) THEN f.geom ELSE ST_Intersection(f.geom, p.geom) END AS piece
      FROM fields f JOIN peer_pieces p ON ST_Intersects(f.geom, p.geom)) cut
GROUP BY code;
