-- IMAP polling: one node at a time polls a mailbox, holding a lease until `lease_until`
-- (a node that dies loses it when it expires); the last poll's figures for the admin page.
ALTER TABLE imap_mailboxes ADD COLUMN leased_by TEXT;
ALTER TABLE imap_mailboxes ADD COLUMN lease_until BIGINT;
ALTER TABLE imap_mailboxes ADD COLUMN last_fetched BIGINT NOT NULL DEFAULT 0;
ALTER TABLE imap_mailboxes ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
