-- Opt-in email alerts of notices.
--
-- The instance's secrets: `alerts.unsubscribe` is the key (hex) that signs the unsubscribe
-- links of alert emails, created on first use by whichever node needs it first.
CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Which event of the notice a delivery told: `published`, `update-N` (the timeline entry N,
-- also the one that resolves or ends it) or `end-T` (the clock ended a maintenance at T).
-- One row per notice, event, contact and line, so that a fan-out run twice records (and
-- sends) once.
ALTER TABLE notice_deliveries ADD COLUMN event TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX notice_deliveries_once ON notice_deliveries (notice_id, event, contact_id, line_id);
-- It also serves the reads by notice that the index of migration 12 served.
DROP INDEX notice_deliveries_notice;
-- A contact's subscriptions (its alerts page, the unsubscribe links).
CREATE INDEX alert_subscriptions_contact ON alert_subscriptions (contact_id, id);
