//! Invitations: an admin invites a contact (to the portal) or a user; the invitee opens the link,
//! chooses a password and is logged in. The link's secret is random and stored only as its
//! SHA-256; it is valid for [`INVITATION_VALIDITY`], once, and inviting again replaces it.

use domain::Channel;
use jiff::Timestamp;
use store::micros;
use store::sessions::Holder;

use crate::access::{Actor, Who};
use crate::admin::audit;
use crate::auth::{hash_password, new_token_secret, token_hash};
use crate::{App, Error, Result};

/// How long an invitation link stays valid.
pub const INVITATION_VALIDITY: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

/// Who is invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invitee {
    /// A customer's contact (a portal login).
    Contact(i64),
    /// A user (a partner's user, or staff).
    User(i64),
}

impl Invitee {
    fn holder(self) -> Holder {
        match self {
            Invitee::Contact(id) => Holder::Contact(id),
            Invitee::User(id) => Holder::User(id),
        }
    }
}

/// An invitation just made: the link's secret, shown once.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The secret of the link `/invite/{secret}`.
    pub secret: String,
    /// The email of the invited person.
    pub email: String,
    /// Until when the link works.
    pub expires_at: Timestamp,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    /// It can be accepted.
    Pending,
    /// It was accepted already.
    Used,
    /// Its time ran out.
    Expired,
}

/// An invitation as its link shows it.
#[derive(Debug, Clone)]
pub struct InvitationView {
    /// The invited person's email (their login).
    pub email: String,
    /// The invited person's name.
    pub name: String,
    /// Where it stands.
    pub state: InvitationState,
    /// Until when the link works.
    pub expires_at: Timestamp,
}

/// The person behind an invitation, as the invitation needs them.
struct Person {
    email: String,
    name: String,
    actor: Actor,
}

impl App {
    async fn invitee(&self, tx: &mut store::Tx, who: Invitee) -> Result<Option<Person>> {
        Ok(match who {
            Invitee::Contact(id) => store::people::contact(tx, id).await?.map(|c| Person {
                actor: Actor::contact(&c, Channel::Web),
                email: c.email,
                name: c.name,
            }),
            Invitee::User(id) => store::people::user(tx, id).await?.filter(|u| u.active).map(|u| Person {
                actor: Actor {
                    who: Who::Agent { all: false, queues: Vec::new() },
                    user_id: Some(u.id),
                    label: format!("{} <{}>", u.name, u.email),
                    channel: Channel::Web,
                    email: Some(u.email.to_lowercase()),
                },
                email: u.email,
                name: u.name,
            }),
        })
    }

    /// Invites a contact or an active user to choose a password, replacing their pending
    /// invitation; returns the link's secret (shown once). Admins only.
    pub async fn invite(&self, actor: &Actor, who: Invitee) -> Result<NewInvitation> {
        actor.require_admin()?;
        let now = self.now();
        let expires_at = now + INVITATION_VALIDITY;
        let mut tx = self.db.write().await?;
        let (subject, id) = match who {
            Invitee::Contact(id) => ("contact", id),
            Invitee::User(id) => ("user", id),
        };
        let person = self.invitee(&mut tx, who).await?.ok_or_else(|| Error::NotFound(format!("{subject} {id}")))?;
        let secret = new_token_secret();
        store::invitations::replace(&mut tx, who.holder(), &token_hash(&secret), micros(now), micros(expires_at))
            .await?;
        audit(&mut tx, actor, None, subject, id, "invited", None, None, Some(expires_at.to_string()), micros(now))
            .await?;
        tx.commit().await?;
        Ok(NewInvitation { secret, email: person.email, expires_at })
    }

    /// The pending invitation of a contact or user: until when it works, if there is one. Admins only.
    pub async fn pending_invitation(&self, actor: &Actor, who: Invitee) -> Result<Option<Timestamp>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        match store::invitations::pending(&mut tx, who.holder(), micros(self.now())).await? {
            Some(row) => Ok(Some(store::instant(row.expires_at)?)),
            None => Ok(None),
        }
    }

    /// The invitation behind a link's secret; `NotFound` when unknown (or its person is gone).
    pub async fn invitation(&self, secret: &str) -> Result<InvitationView> {
        let not_found = || Error::NotFound("invitation".into());
        if secret.len() > 200 {
            return Err(not_found());
        }
        let mut tx = self.db.read().await?;
        let row = store::invitations::by_token_hash(&mut tx, &token_hash(secret)).await?.ok_or_else(not_found)?;
        let person = self.invitee(&mut tx, invitee_of(&row)?).await?.ok_or_else(not_found)?;
        let state = if row.used_at.is_some() {
            InvitationState::Used
        } else if row.expires_at <= micros(self.now()) {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        };
        Ok(InvitationView {
            email: person.email,
            name: person.name,
            state,
            expires_at: store::instant(row.expires_at)?,
        })
    }

    /// Accepts an invitation: sets the person's password (ending their other sessions) and uses
    /// the link up. Returns the login email. `NotFound` for an unknown link, `Conflict` for a used
    /// or expired one, `Invalid` for a password too short.
    pub async fn accept_invitation(&self, secret: &str, password: &str) -> Result<String> {
        let view = self.invitation(secret).await?;
        if view.state != InvitationState::Pending {
            return Err(Error::Conflict("the invitation was used already or has expired".into()));
        }
        // argon2 takes tens of milliseconds of CPU: off the async workers.
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let row = store::invitations::by_token_hash(&mut tx, &token_hash(secret))
            .await?
            .ok_or_else(|| Error::NotFound("invitation".into()))?;
        if row.expires_at <= micros(now) || !store::invitations::mark_used(&mut tx, row.id, micros(now)).await? {
            return Err(Error::Conflict("the invitation was used already or has expired".into()));
        }
        let who = invitee_of(&row)?;
        let person = self.invitee(&mut tx, who).await?.ok_or_else(|| Error::NotFound("invitation".into()))?;
        let (subject, id) = match who {
            Invitee::Contact(id) => {
                store::invitations::set_contact_password(&mut tx, id, &hash, micros(now)).await?;
                ("contact", id)
            }
            Invitee::User(id) => {
                store::people::set_user_password(&mut tx, id, Some(&hash), micros(now)).await?;
                ("user", id)
            }
        };
        store::sessions::delete_for(&mut tx, who.holder()).await?;
        audit(&mut tx, &person.actor, None, subject, id, "invitation_accepted", None, None, None, micros(now)).await?;
        tx.commit().await?;
        Ok(person.email)
    }
}

fn invitee_of(row: &store::invitations::InvitationRow) -> Result<Invitee> {
    match (row.contact_id, row.user_id) {
        (Some(id), _) => Ok(Invitee::Contact(id)),
        (None, Some(id)) => Ok(Invitee::User(id)),
        (None, None) => Err(Error::Internal(format!("invitation {} invites nobody", row.id))),
    }
}
