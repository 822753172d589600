-- Overlap groups' members in a table of their own (issue 18).
--
-- A part's group was a column of clearance_parts, so putting a part in a
-- group, or merging two groups, updated its row. Those updates could not be
-- HOT (the column was indexed): each wrote a new version of the row with its
-- geometry and an entry in every index of the table, the GIST index
-- included. 100,000 fields laid over stored ones rewrote 200,000 parts that
-- way, 6.6 s of a 32 s import. A part is now written once and never
-- updated; its membership is a narrow row here, inserted when it joins a
-- group, moved when groups merge, deleted when it leaves.
--
-- A member row repeats its part's district, crop, day and area (a part
-- never changes), so the sums a membership change moves (acreage_daily:
-- a grouped part's area leaves the loose sums) and a group's days are read
-- here alone; only unions read the parts' geometries.

-- +goose Up
CREATE TABLE group_members (
    clearance_id  bigint NOT NULL,
    district_code text NOT NULL,
    group_id      bigint NOT NULL,
    crop          text NOT NULL,
    cleared_on    date NOT NULL,
    area_m2       double precision NOT NULL,
    -- The part's key: internal/acreage deletes a part's membership with
    -- the part (no foreign key: its check would lock every part grouped).
    PRIMARY KEY (clearance_id, district_code)
);
CREATE INDEX group_members_group ON group_members (group_id);
INSERT INTO group_members (clearance_id, district_code, group_id, crop, cleared_on, area_m2)
SELECT clearance_id, district_code, group_id, crop, cleared_on, area_m2 FROM clearance_parts WHERE group_id IS NOT NULL;
ALTER TABLE clearance_parts DROP COLUMN group_id;
ANALYZE group_members;

-- +goose Down
ALTER TABLE clearance_parts ADD COLUMN group_id bigint;
UPDATE clearance_parts p SET group_id = m.group_id
FROM group_members m WHERE m.clearance_id = p.clearance_id AND m.district_code = p.district_code;
CREATE INDEX clearance_parts_group ON clearance_parts (group_id) WHERE group_id IS NOT NULL;
DROP TABLE group_members;
