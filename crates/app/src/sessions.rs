//! Browser sessions: login with rate limiting, the actor behind a session cookie, logout.
//!
//! The cookie holds a random 256-bit token; the database keeps only its SHA-256. A session ends
//! after [`SESSION_IDLE`] without use or [`SESSION_LIFETIME`] after login, whichever comes first.
//! Each session has its own CSRF token for the forms it posts.

use domain::{Channel, Role};

use crate::access::Actor;
use crate::auth::{new_token_secret, token_hash, verify_password};
use crate::{App, Error, Result};
use store::micros;

/// A session unused this long ends (a working day with a long lunch).
pub const SESSION_IDLE: jiff::SignedDuration = jiff::SignedDuration::from_hours(10);
/// A session ends this long after login whatever its use.
pub const SESSION_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);
/// A session's last use is written at most this often (reads stay reads).
pub const TOUCH_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
/// The window over which failed logins are counted.
pub const FAILURE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);
/// Failed logins for one account within the window before it is refused.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed logins from one address within the window before it is refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;

/// A session just opened: the cookie's secret (shown once).
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The secret for the cookie.
    pub token: String,
    /// Whether it belongs to a customer's contact (the portal) rather than a user.
    pub portal: bool,
}

/// A live session: who is behind it and their preferences.
#[derive(Debug, Clone)]
pub struct Session {
    /// The actor, acting through the web.
    pub actor: Actor,
    /// The CSRF token its forms must carry.
    pub csrf: String,
    /// Display name.
    pub name: String,
    /// Preferred language, when set.
    pub language: Option<String>,
    /// Preferred IANA time zone, when set.
    pub time_zone: Option<String>,
    /// Whether it belongs to a customer's contact or a partner user (the portal).
    pub portal: bool,
}

impl App {
    /// Checks an email and password (users first, then contacts with a portal password) and
    /// opens a session, ending `previous` (the session is rotated at every login). Refuses with
    /// [`Error::RateLimited`] after too many failures for the account or from `address`.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        address: &str,
        previous: Option<&str>,
    ) -> Result<NewSession> {
        let now = self.now();
        let email = email.trim().to_lowercase();
        let keys = [format!("account:{email}"), format!("address:{address}")];
        let since = micros(now - FAILURE_WINDOW);
        let mut tx = self.db.read().await?;
        let by_account = store::sessions::failures_since(&mut tx, &keys[0], since).await?;
        let by_address = store::sessions::failures_since(&mut tx, &keys[1], since).await?;
        if by_account >= MAX_FAILURES_PER_ACCOUNT || by_address >= MAX_FAILURES_PER_ADDRESS {
            return Err(Error::RateLimited(FAILURE_WINDOW.as_secs() as u64));
        }
        let user = store::people::user_by_email(&mut tx, &email).await?;
        let contact = match &user {
            Some(_) => None,
            None => store::people::contact_by_email(&mut tx, &email).await?,
        };
        drop(tx);
        // argon2 takes tens of milliseconds of CPU: off the async workers.
        let password = password.to_owned();
        let user_hash = user.as_ref().filter(|u| u.active).and_then(|u| u.password_hash.clone());
        let contact_hash = contact.as_ref().and_then(|c| c.password_hash.clone());
        let holder = tokio::task::spawn_blocking(move || {
            if let (Some(u), Some(h)) = (&user, &user_hash) {
                return verify_password(&password, h).then_some((store::sessions::Holder::User(u.id), u.role));
            }
            if let (Some(c), Some(h)) = (&contact, &contact_hash) {
                return verify_password(&password, h)
                    .then_some((store::sessions::Holder::Contact(c.id), Role::Contact));
            }
            // The same work when the account does not exist, so timing does not tell.
            let _ = verify_password(&password, dummy_hash());
            None
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.db.write().await?;
        let Some((holder, role)) = holder else {
            store::sessions::record_failure(&mut tx, &keys, micros(now)).await?;
            tx.commit().await?;
            return Err(Error::Unauthenticated);
        };
        if let Some(old) = previous
            && let Some(s) = store::sessions::by_token_hash(&mut tx, &token_hash(old)).await?
        {
            store::sessions::delete(&mut tx, s.id).await?;
        }
        let token = new_token_secret();
        let csrf = new_token_secret();
        store::sessions::insert(
            &mut tx,
            &token_hash(&token),
            holder,
            &csrf,
            micros(now),
            micros(now + SESSION_LIFETIME),
        )
        .await?;
        store::sessions::clear_failures(&mut tx, &keys[0]).await?;
        store::sessions::purge(&mut tx, micros(now), micros(now - SESSION_IDLE), since).await?;
        tx.commit().await?;
        Ok(NewSession { token, portal: matches!(role, Role::Contact | Role::Partner) })
    }

    /// The live session behind a cookie's secret; `None` when unknown, idle too long, expired,
    /// or its user was deactivated.
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        if token.len() > 200 {
            return Ok(None);
        }
        let now = self.now();
        let mut tx = self.db.read().await?;
        let Some(s) = store::sessions::by_token_hash(&mut tx, &token_hash(token)).await? else {
            return Ok(None);
        };
        if micros(now) >= s.expires_at || s.last_seen_at < micros(now - SESSION_IDLE) {
            return Ok(None);
        }
        let session = if let Some(uid) = s.user_id {
            let Some(u) = store::people::user(&mut tx, uid).await?.filter(|u| u.active) else {
                return Ok(None);
            };
            let actor = self.user_actor(&mut tx, &u, u.role, Channel::Web).await?;
            Session {
                actor,
                csrf: s.csrf.clone(),
                name: u.name,
                language: u.language,
                time_zone: u.time_zone,
                portal: u.role == Role::Partner,
            }
        } else if let Some(cid) = s.contact_id {
            let Some(c) = store::people::contact(&mut tx, cid).await? else {
                return Ok(None);
            };
            drop(tx);
            let actor = self.contact_actor(cid, Channel::Web).await?;
            Session {
                actor,
                csrf: s.csrf.clone(),
                name: c.name,
                language: Some(c.language),
                time_zone: c.time_zone,
                portal: true,
            }
        } else {
            return Ok(None);
        };
        if s.last_seen_at < micros(now - TOUCH_EVERY) {
            let mut tx = self.db.write().await?;
            store::sessions::touch(&mut tx, s.id, micros(now)).await?;
            tx.commit().await?;
        }
        Ok(Some(session))
    }

    /// Ends the session behind a cookie's secret (nothing happens for an unknown one).
    pub async fn logout(&self, token: &str) -> Result<()> {
        let mut tx = self.db.write().await?;
        if let Some(s) = store::sessions::by_token_hash(&mut tx, &token_hash(token)).await? {
            store::sessions::delete(&mut tx, s.id).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// An argon2 hash of a random password, verified against when an account does not exist.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::auth::hash_password(&new_token_secret()).unwrap_or_default())
}

/// Checks that `given` is the session's CSRF token, in constant time.
pub fn csrf_matches(session: &Session, given: &str) -> bool {
    crate::auth::same_secret(&session.csrf, given)
}
