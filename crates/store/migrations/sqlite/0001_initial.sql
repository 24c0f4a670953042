-- Sportello schema, SQLite dialect. Instants are INTEGER microseconds since 1970-01-01 UTC.
CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    reference_prefix TEXT NOT NULL DEFAULT 'support',
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE custom_fields (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    kind TEXT NOT NULL,
    choices TEXT NOT NULL DEFAULT '[]',
    required BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (queue_id, name)
);

CREATE TABLE partners (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    vip BOOLEAN NOT NULL DEFAULT FALSE,
    partner_id INTEGER REFERENCES partners(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX customers_partner ON customers (partner_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT 'en',
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX contacts_customer ON contacts (customer_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    partner_id INTEGER REFERENCES partners(id),
    password_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE queue_rights (
    user_id INTEGER NOT NULL REFERENCES users(id),
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    can_see BOOLEAN NOT NULL DEFAULT FALSE,
    can_reply BOOLEAN NOT NULL DEFAULT FALSE,
    can_comment BOOLEAN NOT NULL DEFAULT FALSE,
    can_own BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, queue_id)
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id INTEGER REFERENCES users(id),
    customer_id INTEGER REFERENCES customers(id),
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER,
    merged_into INTEGER REFERENCES tickets(id)
);
CREATE INDEX tickets_queue_status ON tickets (queue_id, status, id);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_owner ON tickets (owner_id, status);
CREATE INDEX tickets_customer ON tickets (customer_id, id);
CREATE INDEX tickets_updated ON tickets (updated_at);
CREATE INDEX tickets_merged ON tickets (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE ticket_contacts (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    role TEXT NOT NULL,
    PRIMARY KEY (ticket_id, contact_id, role)
);
CREATE INDEX ticket_contacts_contact ON ticket_contacts (contact_id, ticket_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    author_user_id INTEGER REFERENCES users(id),
    author_contact_id INTEGER REFERENCES contacts(id),
    author_label TEXT NOT NULL,
    channel TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);

CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE ticket_links (
    from_ticket INTEGER NOT NULL REFERENCES tickets(id),
    to_ticket INTEGER NOT NULL REFERENCES tickets(id),
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (from_ticket, to_ticket, kind)
);
CREATE INDEX ticket_links_to ON ticket_links (to_ticket);

CREATE TABLE field_values (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    field_id INTEGER NOT NULL REFERENCES custom_fields(id),
    value TEXT NOT NULL,
    PRIMARY KEY (ticket_id, field_id)
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id INTEGER REFERENCES tickets(id),
    subject TEXT NOT NULL,
    subject_id INTEGER NOT NULL,
    actor_user_id INTEGER REFERENCES users(id),
    actor_contact_id INTEGER REFERENCES contacts(id),
    actor_label TEXT NOT NULL,
    channel TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    field TEXT,
    old_value TEXT,
    new_value TEXT
);
CREATE INDEX events_ticket ON events (ticket_id, id) WHERE ticket_id IS NOT NULL;
CREATE INDEX events_subject ON events (subject, subject_id, id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at INTEGER NOT NULL,
    locked_by TEXT,
    locked_at INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);

-- Full-text index of messages: one document per message (ticket title + body), rowid = message id.
CREATE VIRTUAL TABLE message_fts USING fts5(
    doc, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
);
