-- The line a ticket is about (optional): the portal's ticket form and the API name it; storm
-- detection groups new tickets by their lines' municipality and network elements, and a ticket
-- opened on a line a notice covers is linked to that notice.
ALTER TABLE tickets ADD COLUMN line_id BIGINT REFERENCES lines(id);
CREATE INDEX tickets_line ON tickets (line_id, created_at) WHERE line_id IS NOT NULL;

-- An SLA clock remembers the notice its ticket was linked to (the known fault it belongs to):
-- reports and the ticket page show it beside the clock.
ALTER TABLE ticket_sla ADD COLUMN notice_id BIGINT REFERENCES notices(id);
