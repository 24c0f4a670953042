-- Service levels: business calendars, support levels with their promised times, and the
-- contracts that give a customer (or a partner, for all its customers) a level.
-- `week` holds the seven days from Monday, separated by `|`, each a comma-separated list of
-- `HH:MM-HH:MM` intervals; `holidays` a comma-separated list of `MM-DD`, `easter+N` and
-- `YYYY-MM-DD` (see `domain::calendar`).
CREATE TABLE calendars (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    always_open BOOLEAN NOT NULL DEFAULT FALSE,
    week TEXT NOT NULL DEFAULT '',
    holidays TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Targets in business minutes.
CREATE TABLE support_levels (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    calendar_id BIGINT NOT NULL REFERENCES calendars(id),
    intervention_blocking BIGINT NOT NULL CHECK (intervention_blocking > 0),
    intervention_non_blocking BIGINT NOT NULL CHECK (intervention_non_blocking > 0),
    restoration_blocking BIGINT NOT NULL CHECK (restoration_blocking > 0),
    restoration_non_blocking BIGINT NOT NULL CHECK (restoration_non_blocking > 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE contracts (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT REFERENCES customers(id),
    partner_id BIGINT REFERENCES partners(id),
    level_id BIGINT NOT NULL REFERENCES support_levels(id),
    valid_from TEXT NOT NULL,
    valid_until TEXT,
    included_minutes BIGINT NOT NULL DEFAULT 0,
    evo BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((customer_id IS NULL) <> (partner_id IS NULL))
);
CREATE INDEX contracts_customer ON contracts (customer_id, valid_from);
CREATE INDEX contracts_partner ON contracts (partner_id, valid_from);

INSERT INTO calendars (slug, name, time_zone, always_open, week, holidays, created_at, updated_at) VALUES
  ('office-it', 'Office hours (Italy)', 'Europe/Rome', FALSE,
   '09:00-13:00,14:00-18:00|09:00-13:00,14:00-18:00|09:00-13:00,14:00-18:00|09:00-13:00,14:00-18:00|09:00-13:00,14:00-18:00||',
   '01-01,01-06,easter+1,04-25,05-01,06-02,08-15,11-01,12-08,12-25,12-26', 0, 0),
  ('extended-it', 'Extended hours with Saturday (Italy)', 'Europe/Rome', FALSE,
   '08:00-20:00|08:00-20:00|08:00-20:00|08:00-20:00|08:00-20:00|08:00-13:00|',
   '01-01,01-06,easter+1,04-25,05-01,06-02,08-15,11-01,12-08,12-25,12-26', 0, 0),
  ('always', '24/7', 'Europe/Rome', TRUE, '', '', 0, 0);

INSERT INTO support_levels (slug, name, calendar_id, intervention_blocking, intervention_non_blocking,
    restoration_blocking, restoration_non_blocking, created_at, updated_at)
  SELECT 'professional', 'Professional', id, 240, 480, 240, 480, 0, 0 FROM calendars WHERE slug = 'office-it';
INSERT INTO support_levels (slug, name, calendar_id, intervention_blocking, intervention_non_blocking,
    restoration_blocking, restoration_non_blocking, created_at, updated_at)
  SELECT 'advanced', 'Advanced', id, 240, 480, 240, 480, 0, 0 FROM calendars WHERE slug = 'extended-it';
INSERT INTO support_levels (slug, name, calendar_id, intervention_blocking, intervention_non_blocking,
    restoration_blocking, restoration_non_blocking, created_at, updated_at)
  SELECT 'extended', 'Extended', id, 240, 480, 120, 240, 0, 0 FROM calendars WHERE slug = 'always';
