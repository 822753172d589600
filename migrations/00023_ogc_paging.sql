-- OGC API - Features paging and collection metadata (issue 17).
--
-- Pages of /ogc/collections/clearances/items are read by key: the counted
-- clearances after the last id of the page before, in id order. This index
-- holds only counted clearances, so a page reads its rows and no retracted
-- ones, at any depth.
--
-- clearance_days counts the counted clearances per crop and day and keeps
-- their bounding box, so numberMatched (under crop and date filters) and the
-- collection's extent are sums over a few hundred rows, not scans of the
-- clearances. clearance_upload_days holds the same per upload, so that a
-- retraction measures a day's box again from the other uploads' boxes of
-- that day (a box cannot be shrunk by subtraction, and the clearances have
-- no index by day). internal/features keeps both current in the upload's
-- and the retraction's transactions. A day whose clearances were all
-- retracted keeps its row, with features 0 and no box.

-- +goose Up
CREATE INDEX clearances_counted_id ON clearances (id) WHERE NOT retracted;

CREATE TABLE clearance_days (
    crop     text NOT NULL,
    day      date NOT NULL,
    features integer NOT NULL CHECK (features >= 0),
    min_lon  double precision,
    min_lat  double precision,
    max_lon  double precision,
    max_lat  double precision,
    PRIMARY KEY (crop, day),
    CHECK ((features = 0) = (min_lon IS NULL)),
    CHECK ((min_lon IS NULL) = (min_lat IS NULL) AND (min_lon IS NULL) = (max_lon IS NULL) AND (min_lon IS NULL) = (max_lat IS NULL))
);

CREATE TABLE clearance_upload_days (
    upload_id bigint NOT NULL REFERENCES uploads (id),
    crop      text NOT NULL,
    day       date NOT NULL,
    features  integer NOT NULL CHECK (features > 0),
    min_lon   double precision NOT NULL,
    min_lat   double precision NOT NULL,
    max_lon   double precision NOT NULL,
    max_lat   double precision NOT NULL,
    PRIMARY KEY (upload_id, crop, day)
);
CREATE INDEX clearance_upload_days_day ON clearance_upload_days (crop, day);

INSERT INTO clearance_upload_days (upload_id, crop, day, features, min_lon, min_lat, max_lon, max_lat)
SELECT upload_id, crop, cleared_on, count(*), min(ST_XMin(geom)), min(ST_YMin(geom)), max(ST_XMax(geom)), max(ST_YMax(geom))
FROM clearances WHERE NOT retracted GROUP BY upload_id, crop, cleared_on;

INSERT INTO clearance_days (crop, day, features, min_lon, min_lat, max_lon, max_lat)
SELECT crop, day, sum(features), min(min_lon), min(min_lat), max(max_lon), max(max_lat)
FROM clearance_upload_days GROUP BY crop, day;

-- +goose Down
DROP TABLE clearance_upload_days;
DROP TABLE clearance_days;
DROP INDEX clearances_counted_id;
