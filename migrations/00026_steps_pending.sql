-- Steps measured after the upload that needs them (issue 18).
--
-- An overlap group's steps (group_steps) cost a union for each pair of its
-- member days: 100,000 fields laid over stored ones made 208,000 unions,
-- half the import's time, all while it held its districts' locks. An upload
-- or retraction that changes more groups than internal/acreage measures at
-- once stores each group's net area instead, as for a group with too many
-- days (stepped false), and marks it steps_pending; the server then measures
-- their steps in short transactions of their own. Until then a date range
-- that cuts such a group unions its members per request: the figures are
-- exact throughout, only slower.

-- +goose Up
ALTER TABLE overlap_groups ADD COLUMN steps_pending boolean NOT NULL DEFAULT false,
                           ADD CONSTRAINT overlap_groups_pending_unstepped CHECK (NOT (steps_pending AND stepped));
CREATE INDEX overlap_groups_steps_pending ON overlap_groups (district_code, id) WHERE steps_pending;

-- +goose Down
DROP INDEX overlap_groups_steps_pending;
ALTER TABLE overlap_groups DROP CONSTRAINT overlap_groups_pending_unstepped, DROP COLUMN steps_pending;
