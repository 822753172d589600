-- Field counts that count a field once however often it was uploaded.
--
-- A near-duplicate (clearances.duplicate_of, SPEC §3.3) is the same field
-- mapped again, not a new one. Following duplicate_of from any clearance
-- ends at the first stored clearance of its chain: the field's root. A field is the set of
-- clearances sharing a root; it counts while any of them does, so retracting
-- the first upload leaves the field counted through its duplicate. `fields`
-- in a scope (a district, a province or the nation 'PK') and a date range
-- is the number of roots with a counted clearance cleared in the range with
-- a part in the scope.
--
-- A root's member days in a scope d1 < d2 < … each remember the member day
-- before (1999-12-31 before the first). For a range from..to, the root's
-- first member day in range is the one day with prev_day < from <= day <=
-- to, so the count is a sum over rows, kept per scope, crop and day
-- (field_days) and unfiltered per scope and crop (field_totals).
-- `features` counts the clearances themselves, near-duplicates included.
--
-- These replace the per-part counts of acreage_daily and district_totals
-- (and clearance_parts.first_part), which counted a re-upload twice.

-- +goose Up
ALTER TABLE clearance_parts ADD COLUMN field_root bigint;
WITH RECURSIVE chain (id, up, depth) AS (
    SELECT id, duplicate_of, 1 FROM clearances WHERE duplicate_of IS NOT NULL
    UNION ALL
    SELECT chain.id, c.duplicate_of, chain.depth + 1 FROM chain JOIN clearances c ON c.id = chain.up
    WHERE c.duplicate_of IS NOT NULL)
UPDATE clearance_parts p SET field_root = r.root
FROM (SELECT DISTINCT ON (id) id, up AS root FROM chain ORDER BY id, depth DESC) r WHERE r.id = p.clearance_id;
UPDATE clearance_parts SET field_root = clearance_id WHERE field_root IS NULL;
ALTER TABLE clearance_parts ALTER COLUMN field_root SET NOT NULL, DROP COLUMN first_part;
CREATE INDEX clearance_parts_field_root ON clearance_parts (field_root);

CREATE TABLE field_days (
    scope    text NOT NULL, -- district code, province code or 'PK'
    crop     text NOT NULL,
    day      date NOT NULL,
    prev_day date NOT NULL, -- the root's member day in the scope before day
    fields   integer NOT NULL, -- roots with this (day, prev_day)
    features integer NOT NULL, -- their clearances on day
    PRIMARY KEY (scope, crop, day, prev_day)
);
CREATE INDEX field_days_day ON field_days (day);

CREATE TABLE field_totals (
    scope    text NOT NULL,
    crop     text NOT NULL,
    fields   integer NOT NULL,
    features integer NOT NULL,
    PRIMARY KEY (scope, crop)
);

INSERT INTO field_days (scope, crop, day, prev_day, fields, features)
SELECT scope, crop, day, prev_day, count(*), sum(features) FROM (
    SELECT scope, crop, day, features,
           coalesce(lag(day) OVER (PARTITION BY root, crop, scope ORDER BY day), '1999-12-31') AS prev_day
    FROM (
        SELECT p.field_root AS root, p.crop, p.district_code AS scope, p.cleared_on AS day, count(*) AS features
        FROM clearance_parts p GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT p.field_root, p.crop, d.province_code, p.cleared_on, count(DISTINCT p.clearance_id)
        FROM clearance_parts p JOIN districts d ON d.code = p.district_code GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT p.field_root, p.crop, 'PK', p.cleared_on, count(DISTINCT p.clearance_id)
        FROM clearance_parts p GROUP BY 1, 2, 3, 4) m) r
GROUP BY 1, 2, 3, 4;
INSERT INTO field_totals (scope, crop, fields, features)
SELECT scope, crop, coalesce(sum(fields) FILTER (WHERE prev_day = '1999-12-31'), 0), sum(features)
FROM field_days GROUP BY 1, 2;

ALTER TABLE acreage_daily DROP COLUMN fields, DROP COLUMN first_parts;
ALTER TABLE district_totals DROP COLUMN fields, DROP COLUMN first_parts;

-- +goose Down
ALTER TABLE clearance_parts ADD COLUMN first_part boolean;
UPDATE clearance_parts p SET first_part = p.district_code = (
    SELECT min(o.district_code) FROM clearance_parts o WHERE o.clearance_id = p.clearance_id);
ALTER TABLE clearance_parts ALTER COLUMN first_part SET NOT NULL, DROP COLUMN field_root;
ALTER TABLE acreage_daily ADD COLUMN fields integer NOT NULL DEFAULT 0, ADD COLUMN first_parts integer NOT NULL DEFAULT 0;
UPDATE acreage_daily a SET fields = c.fields, first_parts = c.first_parts
FROM (SELECT district_code, crop, cleared_on, count(*) AS fields, count(*) FILTER (WHERE first_part) AS first_parts
      FROM clearance_parts GROUP BY 1, 2, 3) c
WHERE a.district_code = c.district_code AND a.crop = c.crop AND a.day = c.cleared_on;
ALTER TABLE district_totals ADD COLUMN fields integer NOT NULL DEFAULT 0, ADD COLUMN first_parts integer NOT NULL DEFAULT 0;
UPDATE district_totals t SET fields = c.fields, first_parts = c.first_parts
FROM (SELECT district_code, crop, count(*) AS fields, count(*) FILTER (WHERE first_part) AS first_parts
      FROM clearance_parts GROUP BY 1, 2
      UNION ALL
      SELECT district_code, 'all', count(*), count(*) FILTER (WHERE first_part)
      FROM clearance_parts GROUP BY 1) c
WHERE t.district_code = c.district_code AND t.crop = c.crop;
DROP TABLE field_totals;
DROP TABLE field_days;
