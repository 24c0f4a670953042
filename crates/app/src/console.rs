//! Use cases of the agent console that are not about one ticket: whom tickets can be assigned
//! to, bulk changes from a queue view, and the feed of ticket changes behind live pages.

use domain::{Role, Status};

use crate::access::Actor;
use crate::tickets::TicketPatch;
use crate::views::{EventView, PersonRef};
use crate::{App, Error, Result};

/// The most tickets one bulk action changes.
pub const MAX_BULK: usize = 200;

/// One bulk action on the tickets selected in a queue view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// The acting agent becomes owner.
    Take,
    /// This user (email) becomes owner; `None` leaves them unowned.
    Assign(Option<String>),
    /// Set this status.
    Status(Status),
    /// Move to this queue (slug).
    Move(String),
}

/// What a bulk action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOutcome {
    /// Tickets changed.
    pub done: Vec<i64>,
    /// Tickets left unchanged, with the reason.
    pub failed: Vec<(i64, String)>,
}

impl App {
    /// Active admins and agents, by name: whom a ticket can be assigned to. Staff only.
    pub async fn assignable_users(&self, actor: &Actor) -> Result<Vec<PersonRef>> {
        actor.require_staff()?;
        let mut tx = self.db.read().await?;
        let mut out: Vec<PersonRef> = store::people::users(&mut tx)
            .await?
            .into_iter()
            .filter(|u| u.active && matches!(u.role, Role::Admin | Role::Agent))
            .map(|u| PersonRef { email: u.email, name: u.name })
            .collect();
        out.sort_by_key(|p| p.name.to_lowercase());
        Ok(out)
    }

    /// Applies one action to each ticket, each in its own change (with its events), so that a
    /// ticket the actor may not change is reported and the others still change. Staff only.
    pub async fn bulk_update(&self, actor: &Actor, numbers: &[i64], action: &BulkAction) -> Result<BulkOutcome> {
        actor.require_staff()?;
        if numbers.len() > MAX_BULK {
            return Err(Error::invalid("tickets", format!("at most {MAX_BULK} tickets at a time")));
        }
        let patch = match action {
            BulkAction::Take => {
                let me = self.actor_email(actor).await?;
                TicketPatch { owner: Some(Some(me)), ..Default::default() }
            }
            BulkAction::Assign(owner) => TicketPatch { owner: Some(owner.clone()), ..Default::default() },
            BulkAction::Status(s) => TicketPatch { status: Some(*s), ..Default::default() },
            BulkAction::Move(q) => TicketPatch { queue: Some(q.clone()), ..Default::default() },
        };
        let mut out = BulkOutcome::default();
        let mut seen = std::collections::BTreeSet::new();
        for &n in numbers {
            if !seen.insert(n) {
                continue;
            }
            match self.update_ticket(actor, n, patch.clone()).await {
                Ok(_) => out.done.push(n),
                Err(e @ (Error::Internal(_) | Error::Unavailable(_))) => return Err(e),
                Err(e) => out.failed.push((n, e.to_string())),
            }
        }
        Ok(out)
    }

    /// The acting user's email (for "take").
    pub async fn actor_email(&self, actor: &Actor) -> Result<String> {
        match (&actor.email, actor.user_id) {
            (Some(email), Some(_)) => Ok(email.clone()),
            _ => Err(Error::invalid("owner", "this actor is not a person")),
        }
    }

    /// The id of the latest recorded change (where a live feed starts).
    pub async fn last_event_id(&self) -> Result<i64> {
        let mut tx = self.db.read().await?;
        Ok(store::events::last_id(&mut tx).await?)
    }

    /// Ticket changes recorded after event `after`, oldest first, at most `limit`. This is the
    /// raw feed of the live pages, for Sportello itself: whoever relays an event to a person
    /// checks first that they may see its ticket.
    pub async fn ticket_events_after(&self, after: i64, limit: i64) -> Result<Vec<EventView>> {
        let mut tx = self.db.read().await?;
        Ok(store::events::ticket_events_after(&mut tx, after, limit.clamp(1, 1000))
            .await?
            .into_iter()
            .map(EventView::from)
            .collect())
    }
}
