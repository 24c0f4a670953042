-- Search documents carry their ticket and whether they are public, so that a search reads the
-- matching documents only (not each matching message again) and can walk tickets newest first.
ALTER TABLE message_fts ADD COLUMN ticket_id BIGINT, ADD COLUMN public BOOLEAN;
UPDATE message_fts f SET ticket_id = m.ticket_id, public = (m.kind = 'reply') FROM messages m WHERE m.id = f.message_id;
ALTER TABLE message_fts ALTER COLUMN ticket_id SET NOT NULL, ALTER COLUMN public SET NOT NULL;
CREATE INDEX message_fts_ticket ON message_fts (ticket_id);
