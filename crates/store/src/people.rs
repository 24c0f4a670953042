//! Partners, customers, contacts, users, their queue rights and API tokens.

use domain::{PartnerKind, QueueRights, Role};
use sqlx::Row;

use crate::{ContactRow, CustomerRow, PartnerRow, Result, TokenRow, Tx, UserRow, parse};

macro_rules! partner_row {
    ($r:expr) => {
        (|| -> Result<PartnerRow> {
            let kind: String = $r.try_get("kind")?;
            Ok(PartnerRow {
                id: $r.try_get("id")?,
                name: $r.try_get("name")?,
                kind: parse(&kind)?,
                created_at: $r.try_get("created_at")?,
            })
        })()
    };
}

/// Creates a partner.
pub async fn insert_partner(tx: &mut Tx, name: &str, kind: PartnerKind, now: i64) -> Result<PartnerRow> {
    with_conn!(tx, c => {
        let r = sqlx::query("INSERT INTO partners (name, kind, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING id, name, kind, created_at")
            .bind(name).bind(kind.as_str()).bind(now).fetch_one(&mut *c).await?;
        partner_row!(r)
    })
}

/// Renames or re-kinds a partner.
pub async fn update_partner(tx: &mut Tx, id: i64, name: &str, kind: PartnerKind, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE partners SET name = $2, kind = $3, updated_at = $4 WHERE id = $1")
        .bind(id).bind(name).bind(kind.as_str()).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The partner with this id.
pub async fn partner(tx: &mut Tx, id: i64) -> Result<Option<PartnerRow>> {
    with_conn!(tx, c => {
        let r = sqlx::query("SELECT id, name, kind, created_at FROM partners WHERE id = $1").bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| partner_row!(r)).transpose()
    })
}

/// Every partner, by name.
pub async fn partners(tx: &mut Tx) -> Result<Vec<PartnerRow>> {
    with_conn!(tx, c => {
        let rows = sqlx::query("SELECT id, name, kind, created_at FROM partners ORDER BY name").fetch_all(&mut *c).await?;
        rows.iter().map(|r| partner_row!(r)).collect()
    })
}

const CUSTOMER_COLS: &str = "id, code, name, vip, partner_id, created_at";

macro_rules! customer_row {
    ($r:expr) => {
        (|| -> Result<CustomerRow> {
            Ok(CustomerRow {
                id: $r.try_get("id")?,
                code: $r.try_get("code")?,
                name: $r.try_get("name")?,
                vip: $r.try_get("vip")?,
                partner_id: $r.try_get("partner_id")?,
                created_at: $r.try_get("created_at")?,
            })
        })()
    };
}

/// Creates a customer.
pub async fn insert_customer(
    tx: &mut Tx,
    code: &str,
    name: &str,
    vip: bool,
    partner_id: Option<i64>,
    now: i64,
) -> Result<CustomerRow> {
    let sql = format!(
        "INSERT INTO customers (code, name, vip, partner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING {CUSTOMER_COLS}"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).bind(name).bind(vip).bind(partner_id).bind(now).fetch_one(&mut *c).await?;
        customer_row!(r)
    })
}

/// Replaces a customer's name, VIP flag and partner.
pub async fn update_customer(
    tx: &mut Tx,
    id: i64,
    name: &str,
    vip: bool,
    partner_id: Option<i64>,
    now: i64,
) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE customers SET name = $2, vip = $3, partner_id = $4, updated_at = $5 WHERE id = $1")
        .bind(id).bind(name).bind(vip).bind(partner_id).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The customer with this code.
pub async fn customer_by_code(tx: &mut Tx, code: &str) -> Result<Option<CustomerRow>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE code = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(code).fetch_optional(&mut *c).await?;
        r.map(|r| customer_row!(r)).transpose()
    })
}

/// The customer with this id.
pub async fn customer(tx: &mut Tx, id: i64) -> Result<Option<CustomerRow>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| customer_row!(r)).transpose()
    })
}

/// Customers, by code; only those of `partner_id` when given.
pub async fn customers(tx: &mut Tx, partner_id: Option<i64>) -> Result<Vec<CustomerRow>> {
    let sql = format!("SELECT {CUSTOMER_COLS} FROM customers WHERE ($1 IS NULL OR partner_id = $1) ORDER BY code");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(partner_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| customer_row!(r)).collect()
    })
}

const CONTACT_COLS: &str = "id, customer_id, email, name, phone, language, time_zone, password_hash, created_at";

macro_rules! contact_row {
    ($r:expr) => {
        (|| -> Result<ContactRow> {
            Ok(ContactRow {
                id: $r.try_get("id")?,
                customer_id: $r.try_get("customer_id")?,
                email: $r.try_get("email")?,
                name: $r.try_get("name")?,
                phone: $r.try_get("phone")?,
                language: $r.try_get("language")?,
                time_zone: $r.try_get("time_zone")?,
                password_hash: $r.try_get("password_hash")?,
                created_at: $r.try_get("created_at")?,
            })
        })()
    };
}

/// A contact's editable fields.
#[derive(Debug, Clone)]
pub struct ContactData {
    pub customer_id: Option<i64>,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub language: String,
}

/// Creates a contact.
pub async fn insert_contact(tx: &mut Tx, d: &ContactData, now: i64) -> Result<ContactRow> {
    let sql = format!(
        "INSERT INTO contacts (customer_id, email, name, phone, language, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {CONTACT_COLS}"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(d.customer_id).bind(&d.email).bind(&d.name).bind(&d.phone).bind(&d.language).bind(now)
            .fetch_one(&mut *c).await?;
        contact_row!(r)
    })
}

/// Replaces a contact's fields.
pub async fn update_contact(tx: &mut Tx, id: i64, d: &ContactData, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE contacts SET customer_id = $2, email = $3, name = $4, phone = $5, language = $6, updated_at = $7 WHERE id = $1")
        .bind(id).bind(d.customer_id).bind(&d.email).bind(&d.name).bind(&d.phone).bind(&d.language).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The contact with this (lowercase) email.
pub async fn contact_by_email(tx: &mut Tx, email: &str) -> Result<Option<ContactRow>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE email = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(&mut *c).await?;
        r.map(|r| contact_row!(r)).transpose()
    })
}

/// The contact with this id.
pub async fn contact(tx: &mut Tx, id: i64) -> Result<Option<ContactRow>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| contact_row!(r)).transpose()
    })
}

/// Contacts, by email; only those of `customer_id` when given.
pub async fn contacts(tx: &mut Tx, customer_id: Option<i64>) -> Result<Vec<ContactRow>> {
    let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE ($1 IS NULL OR customer_id = $1) ORDER BY email");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(customer_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| contact_row!(r)).collect()
    })
}

const USER_COLS: &str = "id, email, name, role, partner_id, password_hash, active, language, time_zone, created_at";

macro_rules! user_row {
    ($r:expr) => {
        (|| -> Result<UserRow> {
            let role: String = $r.try_get("role")?;
            Ok(UserRow {
                id: $r.try_get("id")?,
                email: $r.try_get("email")?,
                name: $r.try_get("name")?,
                role: parse(&role)?,
                partner_id: $r.try_get("partner_id")?,
                password_hash: $r.try_get("password_hash")?,
                active: $r.try_get("active")?,
                language: $r.try_get("language")?,
                time_zone: $r.try_get("time_zone")?,
                created_at: $r.try_get("created_at")?,
            })
        })()
    };
}

/// A user's editable fields.
#[derive(Debug, Clone)]
pub struct UserData {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub partner_id: Option<i64>,
    pub active: bool,
}

/// Creates a user.
pub async fn insert_user(tx: &mut Tx, d: &UserData, password_hash: Option<&str>, now: i64) -> Result<UserRow> {
    let sql = format!(
        "INSERT INTO users (email, name, role, partner_id, password_hash, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {USER_COLS}"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&d.email).bind(&d.name).bind(d.role.as_str()).bind(d.partner_id)
            .bind(password_hash).bind(d.active).bind(now).fetch_one(&mut *c).await?;
        user_row!(r)
    })
}

/// Replaces a user's fields.
pub async fn update_user(tx: &mut Tx, id: i64, d: &UserData, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query(
        "UPDATE users SET email = $2, name = $3, role = $4, partner_id = $5, active = $6, updated_at = $7 WHERE id = $1")
        .bind(id).bind(&d.email).bind(&d.name).bind(d.role.as_str()).bind(d.partner_id).bind(d.active).bind(now)
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets (or clears) a user's password hash.
pub async fn set_user_password(tx: &mut Tx, id: i64, hash: Option<&str>, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(hash).bind(now).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The user with this id.
pub async fn user(tx: &mut Tx, id: i64) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *c).await?;
        r.map(|r| user_row!(r)).transpose()
    })
}

/// The user with this (lowercase) email.
pub async fn user_by_email(tx: &mut Tx, email: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users WHERE email = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(email).fetch_optional(&mut *c).await?;
        r.map(|r| user_row!(r)).transpose()
    })
}

/// Every user, by email.
pub async fn users(tx: &mut Tx) -> Result<Vec<UserRow>> {
    let sql = format!("SELECT {USER_COLS} FROM users ORDER BY email");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| user_row!(r)).collect()
    })
}

/// Sets a user's rights on a queue (no rights at all removes the row).
pub async fn set_rights(tx: &mut Tx, user_id: i64, queue_id: i64, r: QueueRights) -> Result<()> {
    with_conn!(tx, c => {
        if r == QueueRights::default() {
            sqlx::query("DELETE FROM queue_rights WHERE user_id = $1 AND queue_id = $2").bind(user_id).bind(queue_id).execute(&mut *c).await?.rows_affected()
        } else {
            sqlx::query(
                "INSERT INTO queue_rights (user_id, queue_id, can_see, can_reply, can_comment, can_own) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (user_id, queue_id) DO UPDATE SET can_see = excluded.can_see, can_reply = excluded.can_reply,
                     can_comment = excluded.can_comment, can_own = excluded.can_own")
                .bind(user_id).bind(queue_id).bind(r.see).bind(r.reply).bind(r.comment).bind(r.own).execute(&mut *c).await?.rows_affected()
        }
    });
    Ok(())
}

/// A user's rights on every queue where they have some: `(queue_id, rights)`.
pub async fn rights(tx: &mut Tx, user_id: i64) -> Result<Vec<(i64, QueueRights)>> {
    with_conn!(tx, c => {
        let rows = sqlx::query("SELECT queue_id, can_see, can_reply, can_comment, can_own FROM queue_rights WHERE user_id = $1 ORDER BY queue_id")
            .bind(user_id).fetch_all(&mut *c).await?;
        rows.iter().map(|r| -> Result<(i64, QueueRights)> {
            Ok((r.try_get("queue_id")?, QueueRights { see: r.try_get("can_see")?, reply: r.try_get("can_reply")?, comment: r.try_get("can_comment")?, own: r.try_get("can_own")? }))
        }).collect()
    })
}

const TOKEN_COLS: &str = "id, name, role, user_id, created_at, last_used_at, revoked_at";

macro_rules! token_row {
    ($r:expr) => {
        (|| -> Result<TokenRow> {
            let role: String = $r.try_get("role")?;
            Ok(TokenRow {
                id: $r.try_get("id")?,
                name: $r.try_get("name")?,
                role: parse(&role)?,
                user_id: $r.try_get("user_id")?,
                created_at: $r.try_get("created_at")?,
                last_used_at: $r.try_get("last_used_at")?,
                revoked_at: $r.try_get("revoked_at")?,
            })
        })()
    };
}

/// Stores a new token by the hash of its secret.
pub async fn insert_token(
    tx: &mut Tx,
    name: &str,
    hash: &str,
    role: Role,
    user_id: Option<i64>,
    now: i64,
) -> Result<TokenRow> {
    let sql = format!(
        "INSERT INTO api_tokens (name, token_hash, role, user_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {TOKEN_COLS}"
    );
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).bind(hash).bind(role.as_str()).bind(user_id).bind(now).fetch_one(&mut *c).await?;
        token_row!(r)
    })
}

/// The token whose secret hashes to `hash`, revoked or not.
pub async fn token_by_hash(tx: &mut Tx, hash: &str) -> Result<Option<TokenRow>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = $1");
    with_conn!(tx, c => {
        let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&mut *c).await?;
        r.map(|r| token_row!(r)).transpose()
    })
}

/// Every token, newest first.
pub async fn tokens(tx: &mut Tx) -> Result<Vec<TokenRow>> {
    let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY id DESC");
    with_conn!(tx, c => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await?;
        rows.iter().map(|r| token_row!(r)).collect()
    })
}

/// Revokes a token; returns whether it existed and was active.
pub async fn revoke_token(tx: &mut Tx, id: i64, now: i64) -> Result<bool> {
    let n = with_conn!(tx, c => sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id).bind(now).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// Adds a customer or updates the one with this code; returns its id.
pub async fn upsert_customer(
    tx: &mut Tx,
    code: &str,
    name: &str,
    vip: bool,
    partner_id: Option<i64>,
    now: i64,
) -> Result<i64> {
    match customer_by_code(tx, code).await? {
        Some(c) => {
            update_customer(tx, c.id, name, vip, partner_id, now).await?;
            Ok(c.id)
        }
        None => Ok(insert_customer(tx, code, name, vip, partner_id, now).await?.id),
    }
}

/// Attaches a contact to a customer.
pub async fn attach_contact(tx: &mut Tx, contact_id: i64, customer_id: i64, now: i64) -> Result<()> {
    with_conn!(tx, c => sqlx::query("UPDATE contacts SET customer_id = $2, updated_at = $3 WHERE id = $1")
        .bind(contact_id).bind(customer_id).bind(now).execute(&mut *c).await.map(|_| ()))?;
    Ok(())
}
