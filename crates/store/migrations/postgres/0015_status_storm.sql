-- Instance settings an administrator changes from the admin pages, as key → text value (the
-- application reads them with defaults for keys never set): the public status page switch and the
-- ticket storm rule. Storm suggestions an agent dismissed stay hidden until `until`.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE storm_dismissals (
    key_kind TEXT NOT NULL,
    code TEXT NOT NULL,
    until BIGINT NOT NULL,
    dismissed_by BIGINT REFERENCES users(id),
    dismissed_at BIGINT NOT NULL,
    PRIMARY KEY (key_kind, code)
);

-- Storm detection reads the tickets with a line opened in the last minutes (and the last day, to
-- tell a network element from its ancestors).
CREATE INDEX tickets_with_line_by_time ON tickets (created_at) WHERE line_id IS NOT NULL;
