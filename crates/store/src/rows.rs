//! What the repositories return: one struct per stored thing, with domain types where they exist.

use domain::{Category, Channel, CustomFieldKind, LinkKind, MessageKind, PartnerKind, Role, Severity, Status};

/// A queue of tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub reference_prefix: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A custom field of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldRow {
    pub id: i64,
    pub queue_id: i64,
    pub name: String,
    pub label: String,
    pub kind: CustomFieldKind,
    pub choices: Vec<String>,
    pub required: bool,
    pub position: i64,
}

/// A wholesale partner.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRow {
    pub id: i64,
    pub name: String,
    pub kind: PartnerKind,
    pub created_at: i64,
}

/// A customer of the operator (possibly through a partner).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub vip: bool,
    pub partner_id: Option<i64>,
    pub created_at: i64,
}

/// A person who writes to support, usually for a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub language: String,
    /// IANA time zone for dates shown to them; the instance's when unset.
    pub time_zone: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

/// An admin, agent or partner user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub partner_id: Option<i64>,
    pub password_hash: Option<String>,
    pub active: bool,
    /// Preferred language (`en`, `it`, `ca`); the browser's or the instance's when unset.
    pub language: Option<String>,
    /// IANA time zone for dates shown to them; the instance's when unset.
    pub time_zone: Option<String>,
    pub created_at: i64,
}

/// An API token (its secret is never stored, only its hash).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub user_id: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRow {
    pub id: i64,
    pub queue_id: i64,
    pub title: String,
    pub status: Status,
    pub owner_id: Option<i64>,
    pub customer_id: Option<i64>,
    pub category: Category,
    pub severity: Severity,
    pub priority: i64,
    /// The priority was set by hand (else it is computed).
    pub priority_manual: bool,
    /// How many lines or SIMs the ticket concerns.
    pub impact: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub merged_into: Option<i64>,
    /// The line the ticket is about.
    pub line_id: Option<i64>,
}

/// A ticket as listed: with its queue, owner and requestors.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketListRow {
    pub ticket: TicketRow,
    pub queue_slug: String,
    pub reference_prefix: String,
    pub owner_email: Option<String>,
    pub owner_name: Option<String>,
    pub customer_code: Option<String>,
    pub requestors: Vec<String>,
}

/// A requestor or Cc of a ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketContactRow {
    pub ticket_id: i64,
    pub contact_id: i64,
    pub email: String,
    pub name: String,
    pub cc: bool,
}

/// A message of a ticket's thread.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: i64,
    pub ticket_id: i64,
    pub kind: MessageKind,
    pub author_user_id: Option<i64>,
    pub author_contact_id: Option<i64>,
    pub author_label: String,
    pub channel: Channel,
    pub body_text: String,
    pub body_html: Option<String>,
    pub created_at: i64,
}

/// A file attached to a message; its bytes live in `blobs` under its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRow {
    pub id: i64,
    pub message_id: i64,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

/// A link between two tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkRow {
    pub from_ticket: i64,
    pub to_ticket: i64,
    pub kind: LinkKind,
    pub created_at: i64,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub subject: String,
    pub subject_id: i64,
    pub actor_user_id: Option<i64>,
    pub actor_contact_id: Option<i64>,
    pub actor_label: String,
    pub channel: Channel,
    pub at: i64,
    pub kind: String,
    pub field: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// A job of the background queue.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub locked_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}
