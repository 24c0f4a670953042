-- SLA clocks on tickets, the rules of a level's clocks, priority, and time tracking.
-- A level warns at `warn_percent` of a target, pauses its clocks in `pause_statuses`
-- (comma-separated ticket statuses), and at a breach raises the priority by `escalation_raise`
-- and moves the ticket to `escalation_queue_id` (its escalation group) when set.
ALTER TABLE support_levels ADD COLUMN warn_percent BIGINT NOT NULL DEFAULT 75;
ALTER TABLE support_levels ADD COLUMN pause_statuses TEXT NOT NULL DEFAULT 'stalled';
ALTER TABLE support_levels ADD COLUMN escalation_queue_id BIGINT REFERENCES queues(id);
ALTER TABLE support_levels ADD COLUMN escalation_raise BIGINT NOT NULL DEFAULT 0;

-- How many lines or SIMs a ticket concerns; a priority an agent set by hand is kept.
ALTER TABLE tickets ADD COLUMN impact BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN priority_manual BOOLEAN NOT NULL DEFAULT FALSE;

-- One clock per ticket opened under a contract (see `domain::clock`). Durations and instants in
-- microseconds. The due columns are derived from the others and the level; `alarm_at` is the next
-- warning or breach to record, `next_due` the due instant of the running phase.
CREATE TABLE ticket_sla (
    ticket_id INTEGER PRIMARY KEY REFERENCES tickets(id),
    contract_id BIGINT REFERENCES contracts(id),
    level_id BIGINT NOT NULL REFERENCES support_levels(id),
    severity TEXT NOT NULL,
    phase TEXT NOT NULL,
    consumed BIGINT NOT NULL DEFAULT 0,
    running_since BIGINT,
    paused_since BIGINT,
    paused_for BIGINT NOT NULL DEFAULT 0,
    intervened_at BIGINT,
    restored_at BIGINT,
    intervention_breached BOOLEAN NOT NULL DEFAULT FALSE,
    restoration_breached BOOLEAN NOT NULL DEFAULT FALSE,
    warned BOOLEAN NOT NULL DEFAULT FALSE,
    intervention_due BIGINT,
    restoration_due BIGINT,
    next_due BIGINT,
    alarm_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX ticket_sla_alarm ON ticket_sla (alarm_at) WHERE alarm_at IS NOT NULL;
CREATE INDEX ticket_sla_due ON ticket_sla (next_due) WHERE next_due IS NOT NULL;
CREATE INDEX ticket_sla_level ON ticket_sla (level_id, ticket_id) WHERE phase <> 'done';

-- Agents' time on tickets; `customer_id` is the ticket's customer when recorded (the monthly
-- report bills it even if the ticket changes customer later).
CREATE TABLE time_entries (
    id INTEGER PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    message_id BIGINT REFERENCES messages(id),
    user_id BIGINT REFERENCES users(id),
    customer_id BIGINT REFERENCES customers(id),
    minutes BIGINT NOT NULL CHECK (minutes > 0),
    billable BOOLEAN NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    worked_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX time_entries_ticket ON time_entries (ticket_id, id);
CREATE INDEX time_entries_worked ON time_entries (worked_at, customer_id);
