-- Workers claim only the kinds they run: find the due jobs of a kind without walking the others
-- (a node without an SMTP server leaves mail.send jobs queued).
CREATE INDEX jobs_ready_kind ON jobs (state, kind, run_at, id);
