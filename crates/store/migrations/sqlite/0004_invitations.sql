-- Invitations: a single-use link with which a new contact or user chooses their password.
-- Only the SHA-256 of the link's secret is stored.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER REFERENCES users(id),
    contact_id INTEGER REFERENCES contacts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX invitations_user ON invitations (user_id);
CREATE INDEX invitations_contact ON invitations (contact_id);
