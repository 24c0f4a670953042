-- How many lines in service, and how many distinct customers, each territory holds per service
-- type (service_id 0: every service; territory_id 0: everywhere), so that the affected set of a
-- notice naming one territory (and perhaps a service) is one row instead of a scan of its lines
-- (a region of 1.6 million lines took half a second).
--
-- The tallies are computed from the lines as a whole (App::refresh_line_tallies, after an import
-- and by a background task of `serve`), and are only read while they are current: the
-- `lines` mark changes in every transaction that writes lines, and the marks of lines and
-- territories the tallies were computed at are kept beside them ('tallied_lines',
-- 'tallied_territories'). A stale tally is never read: counts then scan the lines as before.
CREATE TABLE line_tallies (
    territory_id BIGINT NOT NULL,
    service_id BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (territory_id, service_id)
);
INSERT INTO inventory_marks (name, mark) VALUES ('lines', abs(random()) % 9007199254740991);
INSERT INTO inventory_marks (name, mark) VALUES ('tallied_lines', -1);
INSERT INTO inventory_marks (name, mark) VALUES ('tallied_territories', -1);
