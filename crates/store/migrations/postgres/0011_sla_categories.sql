-- Promises for categories other than faults, per level: `category:intervention/restoration`
-- business minutes, comma-separated (see `domain::sla::parse_category_targets`). A ticket of a
-- category its level promises nothing for runs no clock; a clock remembers the category it
-- counts for, as it remembers the severity.
ALTER TABLE support_levels ADD COLUMN category_targets TEXT NOT NULL DEFAULT '';
ALTER TABLE ticket_sla ADD COLUMN category TEXT NOT NULL DEFAULT 'blocking_fault';
UPDATE ticket_sla SET category = (SELECT t.category FROM tickets t WHERE t.id = ticket_sla.ticket_id);
DELETE FROM ticket_sla WHERE category NOT IN ('blocking_fault', 'non_blocking_fault');
