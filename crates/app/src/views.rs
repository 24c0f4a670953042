//! What use cases return: plain serialisable views, the same for the API and the pages.

use std::collections::BTreeMap;

use domain::{
    Category, Channel, CustomFieldKind, LinkKind, MessageKind, PartnerKind, QueueRights, Role, Severity, Status,
};
use jiff::Timestamp;
use serde::Serialize;

/// An instant from stored microseconds (the epoch for out-of-range values, which cannot be stored).
pub fn ts(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A person as shown beside a ticket.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PersonRef {
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
}

/// A customer as shown beside a ticket.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerRef {
    /// Customer code.
    pub code: String,
    /// Name.
    pub name: String,
    /// VIP customers come first.
    pub vip: bool,
}

/// A ticket with everything shown on its page.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketView {
    /// Global ticket number.
    pub number: i64,
    /// `prefix#number`, e.g. `support#310`.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Queue slug.
    pub queue: String,
    /// Status.
    pub status: Status,
    /// Owner, if any.
    pub owner: Option<PersonRef>,
    /// Customer, if any.
    pub customer: Option<CustomerRef>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Priority, 0–100.
    pub priority: i64,
    /// Requestors.
    pub requestors: Vec<PersonRef>,
    /// Cc.
    pub cc: Vec<PersonRef>,
    /// Custom field values by field name.
    pub fields: BTreeMap<String, String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When it was last resolved, while resolved.
    pub resolved_at: Option<Timestamp>,
    /// Numbers of tickets merged into this one.
    pub merged_from: Vec<i64>,
    /// The priority was set by hand (else it is computed).
    pub priority_manual: bool,
    /// How many lines or SIMs the ticket concerns.
    pub impact: i64,
    /// The SLA clock, for a ticket opened under a contract.
    pub sla: Option<SlaView>,
    /// The line the ticket is about (identifier).
    pub line: Option<String>,
    /// The notices (known faults) the ticket is linked to.
    pub notices: Vec<i64>,
}

/// A ticket's SLA clock as people read it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaView {
    /// The support level's slug.
    pub level: String,
    /// The support level's name.
    pub level_name: String,
    /// The contract the ticket was opened under.
    pub contract: Option<i64>,
    /// The contract entitles the customer to new versions and features.
    pub evo: bool,
    /// `running`, `paused`, `stopped`, `met` or `breached`.
    pub state: domain::clock::ClockState,
    /// `intervention`, `restoration` or `done`.
    pub phase: domain::clock::Phase,
    /// When the intervention is due (absent once intervened, or while paused).
    pub intervention_due: Option<Timestamp>,
    /// When the restoration is due (predicted from the intervention's due until it happens).
    pub restoration_due: Option<Timestamp>,
    /// When the intervention happened.
    pub intervened_at: Option<Timestamp>,
    /// When the restoration happened.
    pub restored_at: Option<Timestamp>,
    /// Seconds the clock spent paused.
    pub paused_for: i64,
    /// Business seconds left to the current phase's target (negative when late).
    pub left: i64,
    /// The intervention was late.
    pub intervention_breached: bool,
    /// The restoration was late.
    pub restoration_breached: bool,
    /// The notice (known fault) the ticket was linked to first, recorded on the clock.
    pub notice: Option<i64>,
}

/// A ticket as listed in a queue or search result.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketSummary {
    /// Global ticket number.
    pub number: i64,
    /// `prefix#number`.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Queue slug.
    pub queue: String,
    /// Status.
    pub status: Status,
    /// Owner's email.
    pub owner: Option<String>,
    /// Customer code.
    pub customer: Option<String>,
    /// Requestors' emails.
    pub requestors: Vec<String>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Priority.
    pub priority: i64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// The due instant of the running SLA clock, if any.
    pub sla_due: Option<Timestamp>,
    /// The SLA clock's state, for a ticket under contract.
    pub sla_state: Option<domain::clock::ClockState>,
}

/// One page of tickets.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketPage {
    /// The tickets.
    pub tickets: Vec<TicketSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A file attached to a message.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentView {
    /// Attachment id.
    pub id: i64,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// SHA-256 of the content.
    pub sha256: String,
}

/// A message of a ticket's thread.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageView {
    /// Message id.
    pub id: i64,
    /// Public reply or internal comment.
    pub kind: MessageKind,
    /// Who wrote it.
    pub author: String,
    /// How it arrived.
    pub channel: Channel,
    /// Plain-text body.
    pub body_text: String,
    /// Sanitised HTML body, when it came as HTML.
    pub body_html: Option<String>,
    /// When it was written.
    pub created_at: Timestamp,
    /// Attached files.
    pub attachments: Vec<AttachmentView>,
}

/// One entry of a history.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventView {
    /// Event id (increasing).
    pub id: i64,
    /// The ticket it concerns, if any.
    pub ticket: Option<i64>,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// Through which channel.
    pub channel: Channel,
    /// What happened: `created`, `reply`, `comment`, `set` (a field changed), `link`, `unlink`, `merged`, `merged_from`.
    pub kind: String,
    /// The field changed, for `set` events.
    pub field: Option<String>,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
}

/// A link between tickets, from the point of view of one of them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkView {
    /// Source ticket number.
    pub from: i64,
    /// Target ticket number.
    pub to: i64,
    /// Kind of link.
    pub kind: LinkKind,
}

/// A custom field definition.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldView {
    /// Machine name.
    pub name: String,
    /// Label shown to people.
    pub label: String,
    /// Value type.
    pub kind: CustomFieldKind,
    /// Allowed values, for `choice`.
    pub choices: Vec<String>,
    /// Must be given when a ticket is created.
    pub required: bool,
    /// Display order.
    pub position: i64,
}

/// A queue.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueView {
    /// Slug, used in URLs and filters.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Prefix of ticket references.
    pub reference_prefix: String,
    /// Whether new tickets may be created in it.
    pub active: bool,
    /// Custom fields.
    pub fields: Vec<FieldView>,
}

/// A partner.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartnerView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind of business.
    pub kind: PartnerKind,
}

/// A customer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerView {
    /// Id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// VIP.
    pub vip: bool,
    /// Partner id.
    pub partner_id: Option<i64>,
}

/// A contact.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactView {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// Preferred language (`en`, `it`, `ca`).
    pub language: String,
    /// Customer code.
    pub customer: Option<String>,
}

/// A user (admin, agent, partner user).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Partner, for partner users.
    pub partner_id: Option<i64>,
    /// May log in.
    pub active: bool,
    /// Rights per queue slug (agents).
    pub rights: BTreeMap<String, QueueRights>,
}

/// An API token (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role it acts with.
    pub role: Role,
    /// User it acts as.
    pub user_id: Option<i64>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
}

/// A new token: its secret is shown once.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewTokenView {
    /// The token.
    pub token: TokenView,
    /// The secret to send as `Authorization: Bearer …`; it cannot be shown again.
    pub secret: String,
}

/// A background job.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// `queued`, `running`, `done` or `dead`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Next run.
    pub run_at: Timestamp,
    /// Last error.
    pub last_error: Option<String>,
    /// JSON payload.
    pub payload: String,
}

impl From<store::JobRow> for JobView {
    fn from(j: store::JobRow) -> Self {
        JobView {
            id: j.id,
            kind: j.kind,
            state: j.state,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: ts(j.run_at),
            last_error: j.last_error,
            payload: j.payload,
        }
    }
}

impl From<store::EventRow> for EventView {
    fn from(e: store::EventRow) -> Self {
        EventView {
            id: e.id,
            ticket: e.ticket_id,
            at: ts(e.at),
            actor: e.actor_label,
            channel: e.channel,
            kind: e.kind,
            field: e.field,
            old_value: e.old_value,
            new_value: e.new_value,
        }
    }
}

impl From<store::TokenRow> for TokenView {
    fn from(t: store::TokenRow) -> Self {
        TokenView {
            id: t.id,
            name: t.name,
            role: t.role,
            user_id: t.user_id,
            created_at: ts(t.created_at),
            revoked_at: t.revoked_at.map(ts),
        }
    }
}

impl From<store::PartnerRow> for PartnerView {
    fn from(p: store::PartnerRow) -> Self {
        PartnerView { id: p.id, name: p.name, kind: p.kind }
    }
}

impl From<store::CustomerRow> for CustomerView {
    fn from(c: store::CustomerRow) -> Self {
        CustomerView { id: c.id, code: c.code, name: c.name, vip: c.vip, partner_id: c.partner_id }
    }
}

impl From<store::CustomFieldRow> for FieldView {
    fn from(f: store::CustomFieldRow) -> Self {
        FieldView {
            name: f.name,
            label: f.label,
            kind: f.kind,
            choices: f.choices,
            required: f.required,
            position: f.position,
        }
    }
}

impl From<store::TicketListRow> for TicketSummary {
    fn from(r: store::TicketListRow) -> Self {
        TicketSummary {
            number: r.ticket.id,
            reference: format!("{}#{}", r.reference_prefix, r.ticket.id),
            title: r.ticket.title,
            queue: r.queue_slug,
            status: r.ticket.status,
            owner: r.owner_email,
            customer: r.customer_code,
            requestors: r.requestors,
            category: r.ticket.category,
            severity: r.ticket.severity,
            priority: r.ticket.priority,
            created_at: ts(r.ticket.created_at),
            updated_at: ts(r.ticket.updated_at),
            sla_due: None,
            sla_state: None,
        }
    }
}
