-- Acreage, precomputed so that no read aggregates raw clearances (SPEC §3.3).
--
-- A field is cut into its parts inside each district it overlaps
-- (clearance_parts). Parts whose interiors overlap, directly or through
-- others, form an overlap group: the group's net area is the area of its
-- members' union (kept as steps that add up for any date range), and no two
-- parts in different groups overlap. So a
-- district's net area is the sum of its ungrouped parts' areas plus the sum
-- of its groups' nets: exact, and cheap to keep current, since an upload or
-- retraction only touches the groups its fields overlap. Nearly every field
-- overlaps nothing, so groups are few and small.
--
-- acreage_daily sums the ungrouped parts per district, crop and day, so a
-- date range is a sum over days plus the groups in range; district_totals
-- holds the unfiltered figures. Parts exist only for clearances that count:
-- a retraction deletes its parts, never the clearances.

-- +goose Up
CREATE TABLE clearance_parts (
    clearance_id  bigint NOT NULL REFERENCES clearances (id),
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    crop          text NOT NULL,
    cleared_on    date NOT NULL,
    -- One part per clearance is its first, so national field counts count
    -- a border-crossing field once.
    first_part    boolean NOT NULL,
    area_m2       double precision NOT NULL,
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    group_id      bigint,
    PRIMARY KEY (clearance_id, district_code)
);
CREATE INDEX clearance_parts_geom ON clearance_parts USING gist (geom);
CREATE INDEX clearance_parts_group ON clearance_parts (group_id) WHERE group_id IS NOT NULL;
-- Day first: with district first, the planner ANDs this index with the GIST
-- index in the overlap search and scans a whole district per new part.
CREATE INDEX clearance_parts_key ON clearance_parts (cleared_on, district_code, crop);

CREATE TABLE overlap_groups (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    first_day     date NOT NULL,
    last_day      date NOT NULL,
    -- Steps grow with the square of a group's member days; a group with
    -- more days than internal/acreage allows is unioned per request instead.
    stepped       boolean NOT NULL DEFAULT true
);
CREATE INDEX overlap_groups_district ON overlap_groups (district_code);
CREATE INDEX overlap_groups_unstepped ON overlap_groups (first_day, last_day) WHERE NOT stepped;

-- A group's net area for any date range, as sums (see internal/acreage). For
-- member days a <= d of a group, with p the member day before a:
-- w = net(members on days a..d) - net(members on days a..day before d).
-- A range from..to takes, for each group, the steps with p < from <= a and
-- d <= to: they add up to the net of exactly the members in range.
CREATE TABLE group_steps (
    group_id      bigint NOT NULL REFERENCES overlap_groups (id) ON DELETE CASCADE,
    district_code text NOT NULL,
    prev_day      date NOT NULL, -- 1999-12-31 before a group's first day
    a_day         date NOT NULL,
    d_day         date NOT NULL,
    w_m2          double precision NOT NULL, -- all crops
    w_poppy_m2    double precision NOT NULL,
    w_cannabis_m2 double precision NOT NULL,
    PRIMARY KEY (group_id, a_day, d_day)
);
CREATE INDEX group_steps_district ON group_steps (district_code, a_day);

-- The steps summed per district by start: row (f, d) holds the sum of w over
-- the district's steps with prev_day < f <= a_day ending on day d. A range
-- from..to reads the rows of the first f >= from with d <= to: at most one
-- row per day, however many groups there are. Rows exist for every a_day.
CREATE TABLE step_starts (
    district_code text NOT NULL,
    f_day         date NOT NULL,
    d_day         date NOT NULL,
    w_m2          double precision NOT NULL,
    w_poppy_m2    double precision NOT NULL,
    w_cannabis_m2 double precision NOT NULL,
    PRIMARY KEY (district_code, f_day, d_day)
);

CREATE TABLE acreage_daily (
    district_code text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    crop          text NOT NULL,
    day           date NOT NULL,
    single_m2     double precision NOT NULL, -- parts in no group
    gross_m2      double precision NOT NULL, -- all parts
    fields        integer NOT NULL,          -- parts: fields with a part in the district
    first_parts   integer NOT NULL,          -- fields whose first part is here
    PRIMARY KEY (district_code, crop, day)
);

-- Unfiltered figures per district; crop is 'poppy', 'cannabis' or 'all'.
CREATE TABLE district_totals (
    district_code   text NOT NULL REFERENCES districts (code) ON DELETE CASCADE,
    crop            text NOT NULL,
    net_m2          double precision NOT NULL,
    gross_m2        double precision NOT NULL,
    fields          integer NOT NULL,
    first_parts     integer NOT NULL,
    last_cleared_on date,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district_code, crop)
);

-- +goose Down
DROP TABLE step_starts;
DROP TABLE district_totals;
DROP TABLE acreage_daily;
DROP TABLE clearance_parts;
DROP TABLE group_steps;
DROP TABLE overlap_groups;
