//! Who is acting, and what they may do. Every check of the application lives here.

use domain::{Channel, QueueRights, Right};
use store::{TicketRow, Tx};

use crate::{Error, Result};

/// The kind of actor, with what its checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// Sportello itself (command line, jobs): everything is allowed.
    System,
    /// An administrator: everything is allowed.
    Admin,
    /// An agent, with rights per queue (`all` for integration tokens without a user).
    Agent {
        /// Rights on every queue.
        all: bool,
        /// Rights per queue id.
        queues: Vec<(i64, QueueRights)>,
    },
    /// A partner's user: only the partner's customers.
    Partner {
        /// The partner.
        partner_id: i64,
    },
    /// A customer's contact: only their customer (or their own tickets when they have none).
    Contact {
        /// The contact.
        contact_id: i64,
        /// Their customer.
        customer_id: Option<i64>,
    },
}

/// Someone (or something) performing a use case, through a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Kind and rights.
    pub who: Who,
    /// The user behind it, if any (admins, agents, partner users).
    pub user_id: Option<i64>,
    /// How the actor is named in the history.
    pub label: String,
    /// The channel the request came through.
    pub channel: Channel,
    /// The acting person's email address, lowercased (none for Sportello itself and
    /// integration tokens).
    pub email: Option<String>,
}

impl Actor {
    /// Sportello itself acting through `channel` (command line, jobs, demo).
    pub fn system(channel: Channel) -> Actor {
        Actor { who: Who::System, user_id: None, label: "Sportello".into(), channel, email: None }
    }

    /// A customer's contact acting through `channel`, named as in the history.
    pub fn contact(c: &store::ContactRow, channel: Channel) -> Actor {
        Actor {
            who: Who::Contact { contact_id: c.id, customer_id: c.customer_id },
            user_id: None,
            label: if c.name.is_empty() { c.email.clone() } else { format!("{} <{}>", c.name, c.email) },
            channel,
            email: Some(c.email.to_lowercase()),
        }
    }

    /// Whether the actor is staff of the operator (system, admin or agent).
    pub fn is_staff(&self) -> bool {
        matches!(self.who, Who::System | Who::Admin | Who::Agent { .. })
    }

    /// The contact acting, if it is one.
    pub fn contact_id(&self) -> Option<i64> {
        match self.who {
            Who::Contact { contact_id, .. } => Some(contact_id),
            _ => None,
        }
    }

    /// The actor's rights on a queue: everything for admins, nothing for customers and partners.
    pub fn queue_rights(&self, queue_id: i64) -> QueueRights {
        match &self.who {
            Who::System | Who::Admin => QueueRights::ALL,
            Who::Agent { all: true, .. } => QueueRights::ALL,
            Who::Agent { queues, .. } => {
                queues.iter().find(|(q, _)| *q == queue_id).map(|(_, r)| *r).unwrap_or_default()
            }
            Who::Partner { .. } | Who::Contact { .. } => QueueRights::default(),
        }
    }

    /// The queues the actor sees as staff: `None` for all, else their ids.
    pub fn visible_queues(&self) -> Option<Vec<i64>> {
        match &self.who {
            Who::System | Who::Admin | Who::Agent { all: true, .. } => None,
            Who::Agent { queues, .. } => {
                Some(queues.iter().filter(|(_, r)| r.has(Right::See)).map(|(q, _)| *q).collect())
            }
            Who::Partner { .. } | Who::Contact { .. } => None,
        }
    }

    /// Fails unless the actor is an admin (or the system).
    pub fn require_admin(&self) -> Result<()> {
        match self.who {
            Who::System | Who::Admin => Ok(()),
            _ => Err(Error::Forbidden("only administrators may do this".into())),
        }
    }

    /// Fails unless the actor is staff (admin or agent).
    pub fn require_staff(&self) -> Result<()> {
        if self.is_staff() { Ok(()) } else { Err(Error::Forbidden("only the operator's staff may do this".into())) }
    }
}

/// What an actor can do on one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAccess {
    /// Staff, with these rights on the ticket's queue.
    Staff(QueueRights),
    /// The ticket's customer side (contact or partner): public thread, reply, close, reopen.
    Customer,
}

/// An action on a ticket, for [`check_ticket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAction {
    /// Read the ticket (public thread only for customers).
    See,
    /// Public reply.
    Reply,
    /// Internal comment.
    Comment,
    /// Change fields, status, queue, requestors, links.
    Modify,
    /// Become owner, or be made owner.
    Own,
}

/// Works out the actor's access to a ticket; `NotFound` when a customer or partner asks for a
/// ticket that is not theirs (existence does not leak), `Forbidden` for staff without rights.
pub async fn ticket_access(tx: &mut Tx, actor: &Actor, t: &TicketRow) -> Result<TicketAccess> {
    let not_found = || Error::NotFound(format!("ticket {}", t.id));
    match &actor.who {
        Who::System | Who::Admin | Who::Agent { .. } => {
            let rights = actor.queue_rights(t.queue_id);
            if rights.has(Right::See) {
                Ok(TicketAccess::Staff(rights))
            } else {
                Err(Error::Forbidden(format!("no rights on the queue of ticket {}", t.id)))
            }
        }
        Who::Partner { partner_id } => {
            let Some(cid) = t.customer_id else {
                return Err(not_found());
            };
            match store::people::customer(tx, cid).await? {
                Some(c) if c.partner_id == Some(*partner_id) => Ok(TicketAccess::Customer),
                _ => Err(not_found()),
            }
        }
        Who::Contact { contact_id, customer_id } => {
            if customer_id.is_some() && t.customer_id == *customer_id {
                return Ok(TicketAccess::Customer);
            }
            let contacts = store::tickets::contacts_of(tx, &[t.id]).await?;
            if contacts.iter().any(|c| c.contact_id == *contact_id) {
                Ok(TicketAccess::Customer)
            } else {
                Err(not_found())
            }
        }
    }
}

/// Checks one action against an access already worked out.
pub fn check_ticket(access: TicketAccess, action: TicketAction, number: i64) -> Result<()> {
    let ok = match (access, action) {
        (TicketAccess::Staff(r), TicketAction::See) => r.has(Right::See),
        (TicketAccess::Staff(r), TicketAction::Reply | TicketAction::Modify) => r.has(Right::Reply),
        (TicketAccess::Staff(r), TicketAction::Comment) => r.has(Right::Comment),
        (TicketAccess::Staff(r), TicketAction::Own) => r.has(Right::Own),
        (TicketAccess::Customer, TicketAction::See | TicketAction::Reply) => true,
        (TicketAccess::Customer, _) => false,
    };
    if ok {
        Ok(())
    } else {
        let what = match action {
            TicketAction::See => "see",
            TicketAction::Reply => "reply to",
            TicketAction::Comment => "comment on",
            TicketAction::Modify => "change",
            TicketAction::Own => "own",
        };
        Err(Error::Forbidden(format!("you may not {what} ticket {number}")))
    }
}

/// Whether the actor may see a customer (staff: all; partner: theirs; contact: their own).
pub fn may_see_customer(actor: &Actor, customer_id: i64, customer_partner: Option<i64>) -> bool {
    match &actor.who {
        Who::System | Who::Admin | Who::Agent { .. } => true,
        Who::Partner { partner_id } => customer_partner == Some(*partner_id),
        Who::Contact { customer_id: c, .. } => *c == Some(customer_id),
    }
}
