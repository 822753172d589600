-- Official figures that arrive as numbers, not polygons (SPEC §3.4): the
-- national 40,659 acres, a province's announcement, a district's report.
-- scope is 'PK' for the nation, else a province or district code. It is not a
-- foreign key: a figure outlives a boundary reload that renames its district.

-- +goose Up
CREATE TABLE reported_figures (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope       text NOT NULL CHECK (length(scope) BETWEEN 2 AND 64),
    period_from date NOT NULL,
    period_to   date NOT NULL,
    acres       double precision NOT NULL CHECK (acres >= 0),
    source      text NOT NULL CHECK (length(source) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    CHECK (period_from <= period_to)
);
CREATE INDEX reported_figures_scope ON reported_figures (scope, period_from);

-- +goose Down
DROP TABLE reported_figures;
