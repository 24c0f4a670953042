//! Passwords (argon2) and API tokens (random secrets stored as SHA-256 hashes).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use domain::{Channel, Role};
use rand::RngCore;

use crate::access::{Actor, Who};
use crate::{App, Error, Result};

/// The prefix of every API token, so that leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "spt_";

/// How long an authenticated token is remembered by this process. Revocations and changes to
/// users made through this process take effect at once; those made on another node within this.
pub const TOKEN_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The longest password accepted, in bytes (argon2 would hash megabytes, slowly).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid("password", format!("at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::invalid("password", format!("at most {MAX_PASSWORD_BYTES} bytes")));
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Whether `password` matches a stored PHC hash (false for malformed hashes and for passwords
/// longer than any that can be set).
pub fn verify_password(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash)
        .map(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A new random token secret: `spt_` and 256 bits in URL-safe base64.
pub fn new_token_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether two secrets are equal, in time that does not depend on where they differ (an empty
/// secret never matches).
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    !a.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The stored form of a token secret.
pub fn token_hash(secret: &str) -> String {
    store::sha256_hex(secret.as_bytes())
}

impl App {
    /// Finds the actor behind a bearer token; `Unauthenticated` when unknown, revoked or its user
    /// is inactive.
    pub async fn authenticate_token(&self, secret: &str, channel: Channel) -> Result<Actor> {
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() > 200 {
            return Err(Error::Unauthenticated);
        }
        let hash = token_hash(secret);
        if let Ok(cache) = self.token_cache.lock()
            && let Some((actor, at)) = cache.get(&hash)
            && at.elapsed() < TOKEN_CACHE_TTL
        {
            return Ok(Actor { channel, ..actor.clone() });
        }
        let actor = self.lookup_token(&hash, channel).await?;
        if let Ok(mut cache) = self.token_cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (actor.clone(), std::time::Instant::now()));
        }
        Ok(actor)
    }

    /// Forgets every remembered token (after a revocation or a change to users or rights).
    /// The notices' copies of users and rights go with them.
    pub(crate) fn forget_tokens(&self) {
        if let Ok(mut cache) = self.token_cache.lock() {
            cache.clear();
        }
        self.forget_notice_cache();
    }

    async fn lookup_token(&self, hash: &str, channel: Channel) -> Result<Actor> {
        let mut tx = self.db.read().await?;
        let token = store::people::token_by_hash(&mut tx, hash).await?.ok_or(Error::Unauthenticated)?;
        if token.revoked_at.is_some() {
            return Err(Error::Unauthenticated);
        }
        match token.user_id {
            Some(uid) => {
                let user = store::people::user(&mut tx, uid).await?.ok_or(Error::Unauthenticated)?;
                if !user.active {
                    return Err(Error::Unauthenticated);
                }
                // A token never gives more than its user has, nor more than its own role: an
                // admin's agent token acts as an agent on every queue, without admin powers.
                match (token.role, user.role) {
                    (Role::Admin, Role::Admin) => self.user_actor(&mut tx, &user, Role::Admin, channel).await,
                    (Role::Agent, Role::Admin) => Ok(Actor {
                        who: Who::Agent { all: true, queues: Vec::new() },
                        user_id: Some(user.id),
                        label: format!("{} <{}>", user.name, user.email),
                        channel,
                        email: Some(user.email.to_lowercase()),
                    }),
                    (_, Role::Agent) => self.user_actor(&mut tx, &user, Role::Agent, channel).await,
                    _ => Err(Error::Unauthenticated),
                }
            }
            None => Ok(Actor {
                who: match token.role {
                    Role::Admin => Who::Admin,
                    _ => Who::Agent { all: true, queues: Vec::new() },
                },
                user_id: None,
                label: format!("token {}", token.name),
                channel,
                email: None,
            }),
        }
    }

    /// The actor for a user acting with `role` (their rights loaded for agents).
    pub async fn user_actor(
        &self,
        tx: &mut store::Tx,
        user: &store::UserRow,
        role: Role,
        channel: Channel,
    ) -> Result<Actor> {
        let who = match role {
            Role::Admin => Who::Admin,
            Role::Agent => Who::Agent { all: false, queues: store::people::rights(tx, user.id).await? },
            Role::Partner => Who::Partner {
                partner_id: user
                    .partner_id
                    .ok_or_else(|| Error::Internal(format!("partner user {} has no partner", user.id)))?,
            },
            Role::Contact => return Err(Error::Internal("users are never contacts".into())),
        };
        Ok(Actor {
            who,
            user_id: Some(user.id),
            label: format!("{} <{}>", user.name, user.email),
            channel,
            email: Some(user.email.to_lowercase()),
        })
    }

    /// The actor for a contact (a customer's person) acting through `channel`.
    pub async fn contact_actor(&self, contact_id: i64, channel: Channel) -> Result<Actor> {
        let mut tx = self.db.read().await?;
        let c = store::people::contact(&mut tx, contact_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("contact {contact_id}")))?;
        Ok(Actor::contact(&c, channel))
    }

    /// The actor for a user by email (command line, tests), with their own role.
    pub async fn user_actor_by_email(&self, email: &str, channel: Channel) -> Result<Actor> {
        let mut tx = self.db.read().await?;
        let user = store::people::user_by_email(&mut tx, &email.to_lowercase())
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {email}")))?;
        self.user_actor(&mut tx, &user, user.role, channel).await
    }
}
