-- Which transaction last changed the districts' stored figures (issue 18:
-- cold tiles behind pg_tileserv's at zoom 15).
--
-- Tiles from zoom 12 up read their districts' figures in the tile's own
-- statement, and those reads of district_totals and field_totals cost
-- PostgreSQL a fifth of a zoom-15 tile. The tile service now holds every
-- district's figures in memory with this version; the tile's statement
-- reads the version beside the static layers' (one row it reads anyway),
-- and the service reads the figures again when the version has moved
-- (internal/tiles).
--
-- Every change to a row of district_totals or field_totals moves it, so
-- no writer can forget to (a rebuild deletes their rows rather than
-- truncate them). The triggers are deferred to commit, so the one row is
-- locked only while a transaction commits: uploads that run side by side
-- wait for each other only there.

-- +goose Up
ALTER TABLE static_layers ADD COLUMN figures xid8 NOT NULL DEFAULT '0';

-- +goose StatementBegin
CREATE FUNCTION figures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE static_layers SET figures = pg_current_xact_id() WHERE figures <> pg_current_xact_id();
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER district_totals_changed AFTER INSERT OR UPDATE OR DELETE ON district_totals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION figures_changed();
CREATE CONSTRAINT TRIGGER field_totals_changed AFTER INSERT OR UPDATE OR DELETE ON field_totals
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION figures_changed();

-- +goose Down
DROP TRIGGER field_totals_changed ON field_totals;
DROP TRIGGER district_totals_changed ON district_totals;
DROP FUNCTION figures_changed();
ALTER TABLE static_layers DROP COLUMN figures;
