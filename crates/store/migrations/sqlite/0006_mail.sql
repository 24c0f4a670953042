-- The email channel: queue addresses and policies, every message in or out by Message-ID (for
-- threading and loop safety), the outbox, the quarantine, bouncing addresses, IMAP mailboxes.

-- Each queue has an address and a comment address; plus-addressing (support+310@…) targets a ticket.
ALTER TABLE queues ADD COLUMN address TEXT;
ALTER TABLE queues ADD COLUMN comment_address TEXT;
-- An unknown sender: 'create' (contact and ticket), 'hold' (quarantine for moderation), 'refuse'
-- (a polite answer, nothing opened).
ALTER TABLE queues ADD COLUMN unknown_sender TEXT NOT NULL DEFAULT 'create';
-- A tagged message from someone who is neither requestor, Cc nor agent: 'comment' (for review)
-- or 'new_ticket'.
ALTER TABLE queues ADD COLUMN stranger_reply TEXT NOT NULL DEFAULT 'comment';
-- Mask IBANs, card numbers and fiscal codes in inbound bodies.
ALTER TABLE queues ADD COLUMN mask_sensitive BOOLEAN NOT NULL DEFAULT TRUE;
CREATE UNIQUE INDEX queues_address ON queues (address) WHERE address IS NOT NULL;
CREATE UNIQUE INDEX queues_comment_address ON queues (comment_address) WHERE comment_address IS NOT NULL;

-- Every email in or out: threading (In-Reply-To/References against our Message-IDs), the raw
-- message (in blobs) for agents, the sender's rate, never ingesting one delivery twice.
CREATE TABLE mail_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    direction TEXT NOT NULL,              -- 'in' or 'out'
    message_id TEXT NOT NULL,             -- without angle brackets
    ticket_id BIGINT REFERENCES tickets(id),
    message_row_id BIGINT REFERENCES messages(id),
    from_address TEXT NOT NULL DEFAULT '',
    raw_sha256 TEXT REFERENCES blobs(sha256),
    outcome TEXT NOT NULL DEFAULT '',     -- inbound: 'new_ticket', 'reply', 'comment', 'held', 'refused', 'ignored', 'bounce'
    created_at BIGINT NOT NULL
);
CREATE INDEX mail_messages_message_id ON mail_messages (message_id);
CREATE INDEX mail_messages_ticket ON mail_messages (ticket_id);
CREATE INDEX mail_messages_sender ON mail_messages (from_address, created_at) WHERE direction = 'in';

-- The outbox: each email rendered and stored in the transaction of the change that causes it,
-- then sent by a job. State: 'queued', 'sent', 'failed' (permanent; the server's reply kept).
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BIGINT REFERENCES tickets(id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,             -- JSON array of addresses
    raw_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_ticket ON outbox (ticket_id);
CREATE INDEX outbox_state ON outbox (state, id);

-- Messages kept aside: malformed (pipe exit 65), held for moderation, over the size limit.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    queue_id BIGINT REFERENCES queues(id),
    from_address TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    raw_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    state TEXT NOT NULL DEFAULT 'held',   -- 'held', 'released', 'discarded'
    received_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX quarantine_state ON quarantine (state, id);

-- Addresses whose mail bounces: not notified again until they work.
CREATE TABLE mail_bounces (
    address TEXT PRIMARY KEY,
    since BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);

-- Mailboxes polled over IMAP. The password is stored as given (the poller must present it):
-- protect the database like the mail server's own credentials.
CREATE TABLE imap_mailboxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    tls TEXT NOT NULL DEFAULT 'tls',      -- 'tls', 'starttls', 'none'
    username TEXT NOT NULL,
    password TEXT NOT NULL,
    folder TEXT NOT NULL DEFAULT 'INBOX',
    queue_id BIGINT NOT NULL REFERENCES queues(id),
    action TEXT NOT NULL DEFAULT 'correspond',
    done_folder TEXT,                     -- move processed messages there; flag \Seen when absent
    uid_validity BIGINT,
    last_uid BIGINT NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    last_error TEXT,
    last_polled_at BIGINT,
    created_at BIGINT NOT NULL
);

-- Email templates overridden by an admin (the defaults are embedded in the binary), per
-- language (`en`, `it`, `ca`) and kind (`ack`, `reply`, `resolved`, `agent_new`, `agent_reply`).
CREATE TABLE mail_templates (
    language TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (language, kind)
);
