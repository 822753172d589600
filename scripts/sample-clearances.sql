-- Generates geodata/sample-clearances.geojson: 300 synthetic cleared fields
-- (0.2-25 acres, 5-8 vertices) at random points inside the districts where
-- clearance is reported, with deterministic randomness. They are made up, not
-- real clearances. Run against a clearmap database with boundaries loaded:
--   psql -qAt -f scripts/sample-clearances.sql clearmap | tail -n 1
SELECT setseed(0.4065);
WITH plan(code, abbr, n, cannabis_share) AS (VALUES
  ('PK-KP-KHYBER','KHY',50,0.4), ('PK-KP-BAJAUR','BAJ',35,0.1), ('PK-KP-MOHMAND','MOH',35,0.1),
  ('PK-KP-ORAKZAI','ORK',35,0.5), ('PK-KP-KURRAM','KUR',30,0.2), ('PK-BA-KILLA-ABDULLAH','QAB',40,0.0),
  ('PK-BA-PISHIN','PSH',35,0.0), ('PK-BA-LORALAI','LRL',25,0.0), ('PK-BA-KILLA-SAIFULLAH','QSF',15,0.0)),
pts AS (
  SELECT p.code, p.abbr, p.cannabis_share, (ST_Dump(ST_GeneratePoints(ST_Buffer(d.geom, -0.01), p.n, 4065))).geom AS pt
  FROM plan p JOIN districts d ON d.code = p.code),
numbered AS (
  SELECT *, row_number() OVER (PARTITION BY code ORDER BY ST_X(pt), ST_Y(pt)) AS i, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5
  FROM pts),
shaped AS (
  SELECT *, (0.2 + 24.8 * r1 * r1) * 4046.8564224 AS target_m2, 5 + floor(r2 * 4)::int AS k FROM numbered),
polys AS (
  SELECT s.*, ST_SetSRID(ST_MakePolygon(ST_AddPoint(line, ST_StartPoint(line))), 4326) AS geom FROM (
    SELECT s.*, ST_MakeLine(ARRAY(
      SELECT ST_MakePoint(
        round((ST_X(pt) + rad * (0.8 + 0.2 * random()) * cos(2 * pi() * j / k + r3) / (111320 * cos(radians(ST_Y(pt)))))::numeric, 6)::float8,
        round((ST_Y(pt) + rad * (0.8 + 0.2 * random()) * sin(2 * pi() * j / k + r3) / 110950)::numeric, 6)::float8)
      FROM generate_series(0, k - 1) j ORDER BY j)) AS line
    FROM (SELECT *, sqrt(target_m2 / (k / 2.0 * sin(2 * pi() / k))) / 0.9 AS rad FROM shaped) s) s)
SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object(
  'type', 'Feature',
  'properties', json_strip_nulls(json_build_object(
     'field_id', abbr || '-' || lpad(i::text, 3, '0'),
     'crop', CASE WHEN r4 < cannabis_share THEN 'cannabis' ELSE 'poppy' END,
     'cleared_on', (DATE '2026-02-01' + floor(r5 * 104)::int)::text,
     'team', CASE WHEN code LIKE 'PK-BA-%' THEN 'ANF Balochistan ' ELSE 'ANF KP ' END || (1 + floor(r2 * 3)::int),
     'method', (ARRAY['manual', 'tractor', 'manual', 'burning'])[1 + floor(r3 * 4)::int % 4],
     'reported_area', CASE WHEN r2 < 0.5 THEN round((target_m2 / 505.8570528)::numeric, 0) END,
     'reported_unit', CASE WHEN r2 < 0.5 THEN 'kanal' END)),
  'geometry', ST_AsGeoJSON(geom, 6)::json) ORDER BY code, i))
FROM polys p WHERE ST_IsValid(geom) AND EXISTS (SELECT 1 FROM districts d WHERE d.code = p.code AND ST_Within(p.geom, d.geom));
