-- The network elements a line depends on, keyed by line first. An import appends to this
-- table in the order it adds lines (instead of inserting all over a tree ordered by element,
-- which at millions of lines rewrote most of its pages at every commit), and reading or
-- replacing one line's elements is one range of the primary key. Scopes find the lines behind
-- an element through `line_elements_element`, which replaces `line_elements_line`.
ALTER TABLE line_elements DROP CONSTRAINT line_elements_pkey;
ALTER TABLE line_elements ADD PRIMARY KEY (line_id, element_id);
DROP INDEX line_elements_line;
CREATE INDEX line_elements_element ON line_elements (element_id, line_id);

-- A mark that changes (to a random value) with every change to the territories, so that a
-- process may keep the territory tree in memory and see with one small read whether it is
-- still current. Random rather than counted: a mark read inside a transaction that is then
-- rolled back never comes back.
CREATE TABLE inventory_marks (
    name TEXT PRIMARY KEY,
    mark BIGINT NOT NULL
);
INSERT INTO inventory_marks (name, mark) VALUES ('territories', floor(random() * 9007199254740991)::BIGINT);
