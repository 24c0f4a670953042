-- Queue views ordered by priority or by last change read each (queue, status) group straight
-- from an index, as the newest-first order does with tickets_queue_status (see store::tickets::list).
CREATE INDEX tickets_queue_status_priority ON tickets (queue_id, status, priority, id);
CREATE INDEX tickets_queue_status_updated ON tickets (queue_id, status, updated_at, id);
