-- Upload and retraction costs that follow what they touch (issue 18).
--
-- acreage_daily was kept by summing again, for every district, crop and day
-- an upload touched, all the parts of that key: a cost that grew with the
-- archive. It now counts its parts (and the loose ones, in no group) and is
-- kept by adding each change to its parts (internal/acreage), so a count of
-- zero says a row is empty (it is then deleted) and a loose count of zero that its single area is
-- exactly zero, whatever the rounding of the sums.
--
-- An overlap group with too many member days for steps keeps its net area
-- over all its members (all crops, poppy, cannabis): a figure for a range
-- that holds all its days, the unfiltered totals among them, adds it up
-- instead of unioning its members again.

-- +goose Up
ALTER TABLE acreage_daily ADD COLUMN parts integer NOT NULL DEFAULT 0,
                          ADD COLUMN loose integer NOT NULL DEFAULT 0;
UPDATE acreage_daily a SET parts = c.parts, loose = c.loose
FROM (SELECT district_code, crop, cleared_on, count(*) AS parts, count(*) FILTER (WHERE group_id IS NULL) AS loose
      FROM clearance_parts GROUP BY 1, 2, 3) c
WHERE c.district_code = a.district_code AND c.crop = a.crop AND c.cleared_on = a.day;
ALTER TABLE acreage_daily ALTER COLUMN parts DROP DEFAULT, ALTER COLUMN loose DROP DEFAULT;

ALTER TABLE overlap_groups ADD COLUMN net_m2 double precision, ADD COLUMN poppy_m2 double precision,
                           ADD COLUMN cannabis_m2 double precision,
                           ADD CONSTRAINT overlap_groups_unstepped_net CHECK (stepped = (net_m2 IS NULL));
UPDATE overlap_groups g SET net_m2 = u.net, poppy_m2 = u.poppy, cannabis_m2 = u.cannabis
FROM (SELECT p.group_id, ST_Area(ST_Union(p.geom)::geography) AS net,
             coalesce(ST_Area(ST_Union(p.geom) FILTER (WHERE p.crop = 'poppy')::geography), 0) AS poppy,
             coalesce(ST_Area(ST_Union(p.geom) FILTER (WHERE p.crop = 'cannabis')::geography), 0) AS cannabis
      FROM clearance_parts p JOIN overlap_groups g ON g.id = p.group_id AND NOT g.stepped
      GROUP BY p.group_id) u
WHERE g.id = u.group_id;

-- +goose Down
ALTER TABLE overlap_groups DROP CONSTRAINT overlap_groups_unstepped_net,
                           DROP COLUMN net_m2, DROP COLUMN poppy_m2, DROP COLUMN cannabis_m2;
ALTER TABLE acreage_daily DROP COLUMN parts, DROP COLUMN loose;
