-- Date-filtered figures read the daily sums of a date range across every
-- district. The primary key leads with the district, so without this index
-- the range is a scan of every day ever recorded: 5,842 rows for three months
-- of a million fields, about 30,000 more for each year of clearing.

-- +goose Up
CREATE INDEX acreage_daily_day ON acreage_daily (day);

-- +goose Down
DROP INDEX acreage_daily_day;
