-- Inventory (territory, network elements, services, lines) and targeted notices.
--
-- Territory: country → region → province → municipality (ISTAT codes in Italy). A merged
-- municipality keeps its row with `successor_id` set: lines and scopes naming it land on the
-- successor. Network elements form a tree (PoP → OLT → PON port; exchange → cabinet). A line
-- sits in a municipality, has a service type and depends on network elements (their ancestors
-- implied). Ceased lines stay for history but drop out of every affected set.
CREATE TABLE territories (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent_id BIGINT REFERENCES territories(id),
    successor_id BIGINT REFERENCES territories(id),
    population BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX territories_parent ON territories (parent_id);

CREATE TABLE network_elements (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id BIGINT REFERENCES network_elements(id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX network_elements_parent ON network_elements (parent_id);

CREATE TABLE services (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
INSERT INTO services (code, name) VALUES
  ('FTTH', 'Fibre to the home'), ('FTTC', 'Fibre to the cabinet (VDSL)'), ('FWA', 'Fixed wireless access'),
  ('ADSL', 'ADSL'), ('SIM', 'Mobile / IoT SIM'), ('VOIP', 'VoIP trunk'), ('LEASED', 'Leased line');

CREATE TABLE lines (
    id INTEGER PRIMARY KEY,
    identifier TEXT NOT NULL UNIQUE,
    customer_id BIGINT NOT NULL REFERENCES customers(id),
    service_id BIGINT NOT NULL REFERENCES services(id),
    municipality_id BIGINT NOT NULL REFERENCES territories(id),
    status TEXT NOT NULL,
    monitoring_address TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX lines_customer ON lines (customer_id);
-- Affected sets count from here: the place and service of every line still in service.
CREATE INDEX lines_place ON lines (municipality_id, service_id, customer_id) WHERE status <> 'ceased';

CREATE TABLE line_elements (
    element_id BIGINT NOT NULL REFERENCES network_elements(id),
    line_id BIGINT NOT NULL REFERENCES lines(id),
    PRIMARY KEY (element_id, line_id)
) WITHOUT ROWID;
CREATE INDEX line_elements_line ON line_elements (line_id);

-- Notices. `texts` holds the public title and body per language as JSON
-- ({"it": {"title": "…", "body": "…"}}); `scope` the domain's scope as JSON. A notice is a
-- draft until `published_at`.
CREATE TABLE notices (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    impact TEXT NOT NULL,
    texts TEXT NOT NULL,
    internal_notes TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL,
    window_start BIGINT,
    window_end BIGINT,
    estimated_restoration BIGINT,
    published_at BIGINT,
    ended_at BIGINT,
    created_by BIGINT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notices_open ON notices (kind, state) WHERE ended_at IS NULL;

CREATE TABLE notice_updates (
    id INTEGER PRIMARY KEY,
    notice_id BIGINT NOT NULL REFERENCES notices(id),
    state TEXT NOT NULL,
    texts TEXT NOT NULL,
    author_id BIGINT REFERENCES users(id),
    at BIGINT NOT NULL
);
CREATE INDEX notice_updates_notice ON notice_updates (notice_id, id);

CREATE TABLE notice_tickets (
    notice_id BIGINT NOT NULL REFERENCES notices(id),
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (notice_id, ticket_id)
);
CREATE INDEX notice_tickets_ticket ON notice_tickets (ticket_id);

-- Opt-in email alerts: a contact subscribes to one line or to a zone (municipality, province).
CREATE TABLE alert_subscriptions (
    id INTEGER PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    line_id BIGINT REFERENCES lines(id),
    territory_id BIGINT REFERENCES territories(id),
    created_at BIGINT NOT NULL,
    CHECK ((line_id IS NULL) <> (territory_id IS NULL))
);
CREATE UNIQUE INDEX alert_subscriptions_line ON alert_subscriptions (contact_id, line_id) WHERE line_id IS NOT NULL;
CREATE UNIQUE INDEX alert_subscriptions_zone ON alert_subscriptions (contact_id, territory_id) WHERE territory_id IS NOT NULL;
CREATE INDEX alert_subscriptions_by_line ON alert_subscriptions (line_id) WHERE line_id IS NOT NULL;
CREATE INDEX alert_subscriptions_by_zone ON alert_subscriptions (territory_id) WHERE territory_id IS NOT NULL;

-- Who was told what and when, per line: one row per contact, line and message (publication,
-- update or resolution); `update_id` is NULL for the publication.
CREATE TABLE notice_deliveries (
    id INTEGER PRIMARY KEY,
    notice_id BIGINT NOT NULL REFERENCES notices(id),
    update_id BIGINT REFERENCES notice_updates(id),
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    line_id BIGINT NOT NULL REFERENCES lines(id),
    outbox_id BIGINT,
    at BIGINT NOT NULL
);
CREATE INDEX notice_deliveries_line ON notice_deliveries (line_id, id);
CREATE INDEX notice_deliveries_notice ON notice_deliveries (notice_id, update_id);
