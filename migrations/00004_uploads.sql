-- Uploads and the clearances they carry.
--
-- An upload row is kept for every request, accepted or rejected, with its exact
-- bytes in upload_chunks: chunks let a large body be written while it streams in,
-- without holding it in memory. Nothing here is ever deleted: a retraction sets
-- a status and the clearances' retracted flag.

-- +goose Up
CREATE TABLE uploads (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    token_id        bigint REFERENCES tokens (id),
    uploader        text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    sha256          bytea NOT NULL CHECK (octet_length(sha256) = 32),
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    partial         boolean NOT NULL DEFAULT false,
    status          text NOT NULL CHECK (status IN ('accepted', 'rejected', 'retracted')),
    features        integer NOT NULL DEFAULT 0 CHECK (features >= 0),
    receipt         jsonb,
    retracted_at    timestamptz,
    retracted_by    text,
    CHECK ((status = 'retracted') = (retracted_at IS NOT NULL))
);
CREATE INDEX uploads_sha256 ON uploads (sha256);
CREATE UNIQUE INDEX uploads_idempotency_key ON uploads (token_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX uploads_newest ON uploads (received_at DESC, id DESC);
CREATE INDEX uploads_token ON uploads (token_id, received_at DESC);

CREATE TABLE upload_chunks (
    upload_id bigint NOT NULL REFERENCES uploads (id),
    seq       integer NOT NULL CHECK (seq >= 0),
    data      bytea NOT NULL,
    PRIMARY KEY (upload_id, seq)
);

-- One cleared field. geom is WGS84 as uploaded (after any crs transform and
-- repair); geom_3857 feeds the tiles; area_m2 is the geodesic area of geom.
CREATE TABLE clearances (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    upload_id        bigint NOT NULL REFERENCES uploads (id),
    feature_index    integer NOT NULL CHECK (feature_index >= 0),
    field_id         text CHECK (length(field_id) BETWEEN 1 AND 200),
    crop             text NOT NULL CHECK (crop IN ('poppy', 'cannabis')),
    cleared_on       date NOT NULL CHECK (cleared_on >= DATE '2000-01-01'),
    team             text CHECK (length(team) <= 200),
    method           text CHECK (length(method) <= 50),
    notes            text CHECK (length(notes) <= 2000),
    reported_area    double precision CHECK (reported_area >= 0),
    reported_unit    text CHECK (reported_unit IN ('acre', 'kanal', 'hectare', 'm2')),
    reported_area_m2 double precision CHECK (reported_area_m2 >= 0),
    props            jsonb NOT NULL DEFAULT '{}',
    area_m2          double precision NOT NULL CHECK (area_m2 > 0),
    geom             geometry(MultiPolygon, 4326) NOT NULL,
    geom_3857        geometry(MultiPolygon, 3857) NOT NULL,
    duplicate_of     bigint REFERENCES clearances (id),
    retracted        boolean NOT NULL DEFAULT false,
    UNIQUE (upload_id, feature_index),
    CHECK ((reported_area IS NULL) = (reported_unit IS NULL)),
    CHECK ((reported_area IS NULL) = (reported_area_m2 IS NULL))
);
CREATE UNIQUE INDEX clearances_field_id ON clearances (upload_id, field_id)
    WHERE field_id IS NOT NULL;
CREATE INDEX clearances_crop_date ON clearances (crop, cleared_on) WHERE NOT retracted;
CREATE INDEX clearances_geom ON clearances USING gist (geom);
CREATE INDEX clearances_geom_3857 ON clearances USING gist (geom_3857);

-- +goose Down
DROP TABLE clearances;
DROP TABLE upload_chunks;
DROP TABLE uploads;
