-- Nothing to do on SQLite: the FTS5 documents are keyed by message id and searches walk windows
-- of ticket numbers (see store::search). PostgreSQL adds the ticket to its search documents.
SELECT 1;
