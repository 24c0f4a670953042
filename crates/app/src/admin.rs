//! Administration: queues and custom fields, users and rights, partners, customers, contacts,
//! API tokens. Every change is recorded as an event of its subject.

use std::collections::BTreeMap;

use domain::{CustomFieldKind, PartnerKind, QueueRights, Role, reference, validate};
use store::Tx;

use crate::access::{Actor, Who, may_see_customer};
use crate::error::Problems;
use crate::views::*;
use crate::{App, Error, Result, auth};

/// A queue to create or change (every field is replaced).
#[derive(Debug, Clone)]
pub struct QueueInput {
    /// Slug: 1–32 of `a-z 0-9 - _`.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Reference prefix (default `support`).
    pub reference_prefix: Option<String>,
    /// Open to new tickets (default true).
    pub active: Option<bool>,
}

/// A custom field to define.
#[derive(Debug, Clone)]
pub struct FieldInput {
    /// Machine name: 1–32 of `a-z 0-9 - _`.
    pub name: String,
    /// Label.
    pub label: String,
    /// Type.
    pub kind: CustomFieldKind,
    /// Choices, for `choice`.
    pub choices: Vec<String>,
    /// Required at creation.
    pub required: bool,
    /// Display order.
    pub position: i64,
}

/// A user to create or change.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Email (login).
    pub email: String,
    /// Name.
    pub name: String,
    /// Role: admin, agent or partner.
    pub role: Role,
    /// Partner id, for partner users.
    pub partner_id: Option<i64>,
    /// May log in (default true).
    pub active: Option<bool>,
}

/// A customer to create or change.
#[derive(Debug, Clone)]
pub struct CustomerInput {
    /// Code (unique, kept when changing).
    pub code: String,
    /// Name.
    pub name: String,
    /// VIP.
    pub vip: bool,
    /// Partner id.
    pub partner_id: Option<i64>,
}

/// A contact to create or change.
#[derive(Debug, Clone)]
pub struct ContactInput {
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// Language: en, it or ca.
    pub language: Option<String>,
    /// Customer code.
    pub customer: Option<String>,
}

/// The languages Sportello speaks.
pub const LANGUAGES: [&str; 3] = ["en", "it", "ca"];

/// Records an event of any subject (`ticket`, `queue`, `user`, …) by `actor`, in `tx`.
#[allow(clippy::too_many_arguments)] // one argument per column of the event
pub(crate) async fn audit(
    tx: &mut Tx,
    actor: &Actor,
    ticket_id: Option<i64>,
    subject: &str,
    subject_id: i64,
    kind: &str,
    field: Option<&str>,
    old: Option<String>,
    new: Option<String>,
    now: i64,
) -> Result<()> {
    let e = store::events::NewEvent {
        ticket_id,
        subject,
        subject_id,
        actor_user_id: actor.user_id,
        actor_contact_id: actor.contact_id(),
        actor_label: &actor.label,
        channel: actor.channel,
        kind,
        field,
        old_value: old,
        new_value: new,
    };
    Ok(store::events::insert(tx, &e, now).await?)
}

fn name(p: &mut Problems, field: &str, v: &str) -> String {
    p.check(field, validate::required_text(v, validate::MAX_NAME_CHARS)).unwrap_or_default()
}

fn slug(p: &mut Problems, field: &str, v: &str) -> String {
    let s = v.trim().to_ascii_lowercase();
    if reference::check_prefix(&s).is_err() {
        p.add(field, "1 to 32 of a-z, 0-9, - and _");
    }
    s
}

impl App {
    async fn queue_view(&self, tx: &mut Tx, q: store::QueueRow) -> Result<QueueView> {
        let fields = store::queues::fields(tx, q.id).await?.into_iter().map(FieldView::from).collect();
        Ok(QueueView {
            slug: q.slug,
            name: q.name,
            description: q.description,
            reference_prefix: q.reference_prefix,
            active: q.active,
            fields,
        })
    }

    async fn queue_row(&self, tx: &mut Tx, slug: &str) -> Result<store::QueueRow> {
        store::queues::by_slug(tx, &slug.to_ascii_lowercase())
            .await?
            .ok_or_else(|| Error::NotFound(format!("queue {slug}")))
    }

    /// The queues the actor can see (all for admins and customers' forms; agents: theirs).
    pub async fn queues(&self, actor: &Actor) -> Result<Vec<QueueView>> {
        let mut tx = self.db.read().await?;
        let visible = actor.visible_queues();
        let mut out = Vec::new();
        for q in store::queues::all(&mut tx).await? {
            let shown = match (&actor.who, &visible) {
                (Who::Partner { .. } | Who::Contact { .. }, _) => q.active,
                (_, Some(ids)) => ids.contains(&q.id),
                (_, None) => true,
            };
            if shown {
                out.push(self.queue_view(&mut tx, q).await?);
            }
        }
        Ok(out)
    }

    /// One queue by slug.
    pub async fn queue(&self, actor: &Actor, slug: &str) -> Result<QueueView> {
        let mut tx = self.db.read().await?;
        let q = self.queue_row(&mut tx, slug).await?;
        if let Some(ids) = actor.visible_queues()
            && !ids.contains(&q.id)
        {
            return Err(Error::Forbidden(format!("no rights on queue {slug}")));
        }
        self.queue_view(&mut tx, q).await
    }

    fn queue_data(&self, input: &QueueInput) -> Result<store::queues::QueueData> {
        let mut p = Problems::default();
        let data = store::queues::QueueData {
            slug: slug(&mut p, "slug", &input.slug),
            name: name(&mut p, "name", &input.name),
            description: input.description.trim().to_owned(),
            reference_prefix: slug(&mut p, "reference_prefix", input.reference_prefix.as_deref().unwrap_or("support")),
            active: input.active.unwrap_or(true),
        };
        if data.description.len() > 10_000 {
            p.add("description", "at most 10000 bytes");
        }
        p.finish()?;
        Ok(data)
    }

    /// Creates a queue. Admins only.
    pub async fn create_queue(&self, actor: &Actor, input: QueueInput) -> Result<QueueView> {
        actor.require_admin()?;
        let data = self.queue_data(&input)?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        if store::queues::by_slug(&mut tx, &data.slug).await?.is_some() {
            return Err(Error::Conflict(format!("a queue `{}` exists already", data.slug)));
        }
        let q = store::queues::insert(&mut tx, &data, now).await?;
        audit(&mut tx, actor, None, "queue", q.id, "created", None, None, Some(q.slug.clone()), now).await?;
        let v = self.queue_view(&mut tx, q).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(v)
    }

    /// Replaces a queue's settings (its slug may change). Admins only.
    pub async fn update_queue(&self, actor: &Actor, slug: &str, input: QueueInput) -> Result<QueueView> {
        actor.require_admin()?;
        let data = self.queue_data(&input)?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let q = self.queue_row(&mut tx, slug).await?;
        if data.slug != q.slug && store::queues::by_slug(&mut tx, &data.slug).await?.is_some() {
            return Err(Error::Conflict(format!("a queue `{}` exists already", data.slug)));
        }
        store::queues::update(&mut tx, q.id, &data, now).await?;
        let changes = [
            ("slug", q.slug.clone(), data.slug.clone()),
            ("name", q.name.clone(), data.name.clone()),
            ("description", q.description.clone(), data.description.clone()),
            ("reference_prefix", q.reference_prefix.clone(), data.reference_prefix.clone()),
            ("active", q.active.to_string(), data.active.to_string()),
        ];
        for (field, old, new) in changes {
            if old != new {
                audit(&mut tx, actor, None, "queue", q.id, "set", Some(field), Some(old), Some(new), now).await?;
            }
        }
        let q = store::queues::by_id(&mut tx, q.id).await?.ok_or_else(|| Error::NotFound(format!("queue {slug}")))?;
        let v = self.queue_view(&mut tx, q).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(v)
    }

    /// Defines or redefines a custom field of a queue. Admins only.
    pub async fn set_field(&self, actor: &Actor, queue: &str, input: FieldInput) -> Result<QueueView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let fname = slug(&mut p, "name", &input.name);
        let label = name(&mut p, "label", &input.label);
        let choices: Vec<String> =
            input.choices.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
        if input.kind == CustomFieldKind::Choice && choices.is_empty() {
            p.add("choices", "a choice field needs at least one choice");
        }
        if choices.iter().any(|c| c.contains('\n') || c.chars().count() > 200) || choices.len() > 200 {
            p.add("choices", "at most 200 single-line choices of 200 characters");
        }
        p.finish()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let q = self.queue_row(&mut tx, queue).await?;
        let data = store::queues::FieldData {
            name: fname.clone(),
            label,
            kind: input.kind,
            choices,
            required: input.required,
            position: input.position,
        };
        store::queues::upsert_field(&mut tx, q.id, &data, now).await?;
        audit(&mut tx, actor, None, "queue", q.id, "field", Some(&fname), None, Some(input.kind.to_string()), now)
            .await?;
        let v = self.queue_view(&mut tx, q).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(v)
    }

    /// Removes a custom field (and its values) from a queue. Admins only.
    pub async fn delete_field(&self, actor: &Actor, queue: &str, field: &str) -> Result<QueueView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let q = self.queue_row(&mut tx, queue).await?;
        if !store::queues::delete_field(&mut tx, q.id, field).await? {
            return Err(Error::NotFound(format!("field {field} of queue {queue}")));
        }
        audit(&mut tx, actor, None, "queue", q.id, "field_removed", Some(field), None, None, now).await?;
        let v = self.queue_view(&mut tx, q).await?;
        tx.commit().await?;
        self.forget_notice_cache();
        Ok(v)
    }

    async fn user_view(&self, tx: &mut Tx, u: store::UserRow) -> Result<UserView> {
        let mut rights = BTreeMap::new();
        for (qid, r) in store::people::rights(tx, u.id).await? {
            if let Some(q) = store::queues::by_id(tx, qid).await? {
                rights.insert(q.slug, r);
            }
        }
        Ok(UserView {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            partner_id: u.partner_id,
            active: u.active,
            rights,
        })
    }

    async fn user_data(&self, tx: &mut Tx, input: &UserInput) -> Result<store::people::UserData> {
        let mut p = Problems::default();
        let email = p.check("email", validate::email(&input.email)).unwrap_or_default();
        let name = name(&mut p, "name", &input.name);
        match (input.role, input.partner_id) {
            (Role::Contact, _) => p.add("role", "contacts are managed as contacts; a user is admin, agent or partner"),
            (Role::Partner, None) => p.add("partner_id", "a partner user needs its partner"),
            (Role::Partner, Some(pid)) if store::people::partner(tx, pid).await?.is_none() => {
                p.add("partner_id", format!("no partner {pid}"))
            }
            (Role::Partner, Some(_)) => {}
            (_, Some(_)) => p.add("partner_id", "only partner users belong to a partner"),
            _ => {}
        }
        p.finish()?;
        Ok(store::people::UserData {
            email,
            name,
            role: input.role,
            partner_id: input.partner_id,
            active: input.active.unwrap_or(true),
        })
    }

    /// Every user. Admins only.
    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserView>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for u in store::people::users(&mut tx).await? {
            out.push(self.user_view(&mut tx, u).await?);
        }
        Ok(out)
    }

    /// One user. Admins, or the user themself.
    pub async fn user(&self, actor: &Actor, id: i64) -> Result<UserView> {
        if actor.user_id != Some(id) {
            actor.require_admin()?;
        }
        let mut tx = self.db.read().await?;
        let u = store::people::user(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        self.user_view(&mut tx, u).await
    }

    /// Creates a user, with a password when given. Admins only.
    pub async fn create_user(&self, actor: &Actor, input: UserInput, password: Option<&str>) -> Result<UserView> {
        actor.require_admin()?;
        let hash = password.map(auth::hash_password).transpose()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let data = self.user_data(&mut tx, &input).await?;
        if store::people::user_by_email(&mut tx, &data.email).await?.is_some() {
            return Err(Error::Conflict(format!("a user `{}` exists already", data.email)));
        }
        let u = store::people::insert_user(&mut tx, &data, hash.as_deref(), now).await?;
        audit(&mut tx, actor, None, "user", u.id, "created", None, None, Some(format!("{} {}", u.email, u.role)), now)
            .await?;
        let v = self.user_view(&mut tx, u).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Replaces a user's fields. Admins only.
    pub async fn update_user(&self, actor: &Actor, id: i64, input: UserInput) -> Result<UserView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let u = store::people::user(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        let data = self.user_data(&mut tx, &input).await?;
        if data.email != u.email && store::people::user_by_email(&mut tx, &data.email).await?.is_some() {
            return Err(Error::Conflict(format!("a user `{}` exists already", data.email)));
        }
        store::people::update_user(&mut tx, id, &data, now).await?;
        let changes = [
            ("email", u.email.clone(), data.email.clone()),
            ("name", u.name.clone(), data.name.clone()),
            ("role", u.role.to_string(), data.role.to_string()),
            ("partner_id", format!("{:?}", u.partner_id), format!("{:?}", data.partner_id)),
            ("active", u.active.to_string(), data.active.to_string()),
        ];
        for (field, old, new) in changes {
            if old != new {
                audit(&mut tx, actor, None, "user", id, "set", Some(field), Some(old), Some(new), now).await?;
            }
        }
        let u = store::people::user(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        let v = self.user_view(&mut tx, u).await?;
        tx.commit().await?;
        self.forget_tokens();
        Ok(v)
    }

    /// Sets a user's password. Admins, or the user themself.
    pub async fn set_password(&self, actor: &Actor, id: i64, password: &str) -> Result<()> {
        if actor.user_id != Some(id) {
            actor.require_admin()?;
        }
        let hash = auth::hash_password(password)?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        store::people::user(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("user {id}")))?;
        store::people::set_user_password(&mut tx, id, Some(&hash), now).await?;
        // A new password ends every browser session opened with the old one.
        store::sessions::delete_for(&mut tx, store::sessions::Holder::User(id)).await?;
        audit(&mut tx, actor, None, "user", id, "password", None, None, None, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets an agent's rights on a queue. Admins only.
    pub async fn set_rights(&self, actor: &Actor, user_id: i64, queue: &str, rights: QueueRights) -> Result<UserView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let u =
            store::people::user(&mut tx, user_id).await?.ok_or_else(|| Error::NotFound(format!("user {user_id}")))?;
        if u.role != Role::Agent {
            return Err(Error::invalid("user", "rights per queue are for agents (admins have all rights)"));
        }
        let q = self.queue_row(&mut tx, queue).await?;
        let old = store::people::rights(&mut tx, user_id)
            .await?
            .into_iter()
            .find(|(id, _)| *id == q.id)
            .map(|(_, r)| r)
            .unwrap_or_default();
        store::people::set_rights(&mut tx, user_id, q.id, rights).await?;
        if old != rights {
            let show = |r: QueueRights| format!("see={} reply={} comment={} own={}", r.see, r.reply, r.comment, r.own);
            audit(
                &mut tx,
                actor,
                None,
                "user",
                user_id,
                "rights",
                Some(&q.slug),
                Some(show(old)),
                Some(show(rights)),
                now,
            )
            .await?;
        }
        let v = self.user_view(&mut tx, u).await?;
        tx.commit().await?;
        self.forget_tokens();
        Ok(v)
    }

    /// Checks a user's email and password; `None` when wrong or inactive (same answer either way).
    pub async fn verify_user_login(&self, email: &str, password: &str) -> Result<Option<store::UserRow>> {
        let mut tx = self.db.read().await?;
        let user = store::people::user_by_email(&mut tx, &email.trim().to_lowercase()).await?;
        Ok(user.filter(|u| u.active && u.password_hash.as_deref().is_some_and(|h| auth::verify_password(password, h))))
    }

    /// Every partner (admins and agents), or the actor's own partner.
    pub async fn partners(&self, actor: &Actor) -> Result<Vec<PartnerView>> {
        let mut tx = self.db.read().await?;
        let all = store::people::partners(&mut tx).await?;
        Ok(match actor.who {
            Who::Partner { partner_id } => {
                all.into_iter().filter(|p| p.id == partner_id).map(PartnerView::from).collect()
            }
            Who::Contact { .. } => {
                return Err(Error::Forbidden("partners are not shown to customers".into()));
            }
            _ => all.into_iter().map(PartnerView::from).collect(),
        })
    }

    /// One partner.
    pub async fn partner(&self, actor: &Actor, id: i64) -> Result<PartnerView> {
        let mut tx = self.db.read().await?;
        let p = store::people::partner(&mut tx, id).await?;
        match (p, &actor.who) {
            (Some(p), Who::Partner { partner_id }) if p.id == *partner_id => Ok(p.into()),
            (Some(p), w) if !matches!(w, Who::Partner { .. } | Who::Contact { .. }) => Ok(p.into()),
            _ => Err(Error::NotFound(format!("partner {id}"))),
        }
    }

    /// Creates or (with `id`) renames a partner. Admins only.
    pub async fn save_partner(
        &self,
        actor: &Actor,
        id: Option<i64>,
        name_in: &str,
        kind: PartnerKind,
    ) -> Result<PartnerView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let n = name(&mut p, "name", name_in);
        p.finish()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let row = match id {
            Some(id) => {
                let old = store::people::partner(&mut tx, id)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("partner {id}")))?;
                store::people::update_partner(&mut tx, id, &n, kind, now).await?;
                if old.name != n {
                    audit(
                        &mut tx,
                        actor,
                        None,
                        "partner",
                        id,
                        "set",
                        Some("name"),
                        Some(old.name),
                        Some(n.clone()),
                        now,
                    )
                    .await?;
                }
                if old.kind != kind {
                    audit(
                        &mut tx,
                        actor,
                        None,
                        "partner",
                        id,
                        "set",
                        Some("kind"),
                        Some(old.kind.to_string()),
                        Some(kind.to_string()),
                        now,
                    )
                    .await?;
                }
                store::people::partner(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("partner {id}")))?
            }
            None => {
                let row = store::people::insert_partner(&mut tx, &n, kind, now).await?;
                audit(&mut tx, actor, None, "partner", row.id, "created", None, None, Some(n.clone()), now).await?;
                row
            }
        };
        tx.commit().await?;
        Ok(row.into())
    }

    /// Customers the actor may see: all for staff, a partner's own, a contact's own.
    pub async fn customers(&self, actor: &Actor) -> Result<Vec<CustomerView>> {
        let mut tx = self.db.read().await?;
        let rows = match actor.who {
            Who::Partner { partner_id } => store::people::customers(&mut tx, Some(partner_id)).await?,
            Who::Contact { customer_id, .. } => match customer_id {
                Some(id) => store::people::customer(&mut tx, id).await?.into_iter().collect(),
                None => Vec::new(),
            },
            _ => store::people::customers(&mut tx, None).await?,
        };
        Ok(rows.into_iter().map(CustomerView::from).collect())
    }

    /// One customer by code (404 when the actor may not see it).
    pub async fn customer(&self, actor: &Actor, code: &str) -> Result<CustomerView> {
        let mut tx = self.db.read().await?;
        match store::people::customer_by_code(&mut tx, code).await? {
            Some(c) if may_see_customer(actor, c.id, c.partner_id) => Ok(c.into()),
            _ => Err(Error::NotFound(format!("customer {code}"))),
        }
    }

    async fn check_customer(&self, tx: &mut Tx, input: &CustomerInput) -> Result<(String, String)> {
        let mut p = Problems::default();
        let code = input.code.trim().to_owned();
        if code.is_empty() || code.len() > 64 || code.chars().any(|c| c.is_whitespace() || c.is_control()) {
            p.add("code", "1 to 64 characters without spaces");
        }
        let n = name(&mut p, "name", &input.name);
        if let Some(pid) = input.partner_id
            && store::people::partner(tx, pid).await?.is_none()
        {
            p.add("partner_id", format!("no partner {pid}"));
        }
        p.finish()?;
        Ok((code, n))
    }

    /// Creates a customer. Admins only.
    pub async fn create_customer(&self, actor: &Actor, input: CustomerInput) -> Result<CustomerView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let (code, n) = self.check_customer(&mut tx, &input).await?;
        if store::people::customer_by_code(&mut tx, &code).await?.is_some() {
            return Err(Error::Conflict(format!("a customer `{code}` exists already")));
        }
        let c = store::people::insert_customer(&mut tx, &code, &n, input.vip, input.partner_id, now).await?;
        audit(&mut tx, actor, None, "customer", c.id, "created", None, None, Some(code), now).await?;
        tx.commit().await?;
        Ok(c.into())
    }

    /// Changes a customer's name, VIP flag and partner (the code stays). Admins only.
    pub async fn update_customer(&self, actor: &Actor, code: &str, input: CustomerInput) -> Result<CustomerView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let old = store::people::customer_by_code(&mut tx, code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {code}")))?;
        let input = CustomerInput { code: old.code.clone(), ..input };
        let (_, n) = self.check_customer(&mut tx, &input).await?;
        store::people::update_customer(&mut tx, old.id, &n, input.vip, input.partner_id, now).await?;
        let changes = [
            ("name", old.name.clone(), n.clone()),
            ("vip", old.vip.to_string(), input.vip.to_string()),
            ("partner_id", format!("{:?}", old.partner_id), format!("{:?}", input.partner_id)),
        ];
        for (field, o, v) in changes {
            if o != v {
                audit(&mut tx, actor, None, "customer", old.id, "set", Some(field), Some(o), Some(v), now).await?;
            }
        }
        let c = store::people::customer(&mut tx, old.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {code}")))?;
        tx.commit().await?;
        Ok(c.into())
    }

    async fn contact_view(&self, tx: &mut Tx, c: store::ContactRow) -> Result<ContactView> {
        let customer = match c.customer_id {
            Some(id) => store::people::customer(tx, id).await?.map(|c| c.code),
            None => None,
        };
        Ok(ContactView { id: c.id, email: c.email, name: c.name, phone: c.phone, language: c.language, customer })
    }

    /// Contacts the actor may see (optionally of one customer).
    pub async fn contacts(&self, actor: &Actor, customer: Option<&str>) -> Result<Vec<ContactView>> {
        let mut tx = self.db.read().await?;
        let customer_id = match customer {
            Some(code) => match store::people::customer_by_code(&mut tx, code).await? {
                Some(c) if may_see_customer(actor, c.id, c.partner_id) => Some(c.id),
                _ => return Err(Error::NotFound(format!("customer {code}"))),
            },
            None => None,
        };
        let rows = match (&actor.who, customer_id) {
            (_, Some(id)) => store::people::contacts(&mut tx, Some(id)).await?,
            (Who::Partner { partner_id }, None) => {
                let mut all = Vec::new();
                for c in store::people::customers(&mut tx, Some(*partner_id)).await? {
                    all.extend(store::people::contacts(&mut tx, Some(c.id)).await?);
                }
                all
            }
            (Who::Contact { customer_id: Some(id), .. }, None) => store::people::contacts(&mut tx, Some(*id)).await?,
            (Who::Contact { contact_id, .. }, None) => {
                store::people::contact(&mut tx, *contact_id).await?.into_iter().collect()
            }
            (_, None) => store::people::contacts(&mut tx, None).await?,
        };
        let mut out = Vec::new();
        for c in rows {
            out.push(self.contact_view(&mut tx, c).await?);
        }
        Ok(out)
    }

    /// One contact (404 when the actor may not see it).
    pub async fn contact(&self, actor: &Actor, id: i64) -> Result<ContactView> {
        let mut tx = self.db.read().await?;
        let c = store::people::contact(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
        let visible = match (c.customer_id, actor.contact_id()) {
            (_, Some(me)) if me == c.id => true,
            (Some(cid), _) => {
                let cu = store::people::customer(&mut tx, cid).await?;
                cu.is_some_and(|cu| may_see_customer(actor, cu.id, cu.partner_id))
            }
            (None, _) => actor.is_staff(),
        };
        if !visible {
            return Err(Error::NotFound(format!("contact {id}")));
        }
        self.contact_view(&mut tx, c).await
    }

    async fn contact_data(&self, tx: &mut Tx, input: &ContactInput) -> Result<store::people::ContactData> {
        let mut p = Problems::default();
        let email = p.check("email", validate::email(&input.email)).unwrap_or_default();
        let n = input.name.trim().to_owned();
        if n.chars().count() > validate::MAX_NAME_CHARS {
            p.add("name", format!("at most {} characters", validate::MAX_NAME_CHARS));
        }
        let phone = input.phone.trim().to_owned();
        if phone.len() > 40 || !phone.chars().all(|c| c.is_ascii_digit() || " +-()./".contains(c)) {
            p.add("phone", "digits, spaces and + - ( ) . / only, at most 40");
        }
        let language = input.language.clone().unwrap_or_else(|| "en".into());
        if !LANGUAGES.contains(&language.as_str()) {
            p.add("language", "one of: en, it, ca");
        }
        let customer_id = match &input.customer {
            Some(code) => match store::people::customer_by_code(tx, code).await? {
                Some(c) => Some(c.id),
                None => {
                    p.add("customer", format!("no customer `{code}`"));
                    None
                }
            },
            None => None,
        };
        p.finish()?;
        Ok(store::people::ContactData { customer_id, email, name: n, phone, language })
    }

    /// Creates a contact. Admins only.
    pub async fn create_contact(&self, actor: &Actor, input: ContactInput) -> Result<ContactView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let data = self.contact_data(&mut tx, &input).await?;
        if store::people::contact_by_email(&mut tx, &data.email).await?.is_some() {
            return Err(Error::Conflict(format!("a contact `{}` exists already", data.email)));
        }
        let c = store::people::insert_contact(&mut tx, &data, now).await?;
        audit(&mut tx, actor, None, "contact", c.id, "created", None, None, Some(c.email.clone()), now).await?;
        let v = self.contact_view(&mut tx, c).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Replaces a contact's fields. Admins only.
    pub async fn update_contact(&self, actor: &Actor, id: i64, input: ContactInput) -> Result<ContactView> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let old = store::people::contact(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
        let data = self.contact_data(&mut tx, &input).await?;
        if data.email != old.email && store::people::contact_by_email(&mut tx, &data.email).await?.is_some() {
            return Err(Error::Conflict(format!("a contact `{}` exists already", data.email)));
        }
        store::people::update_contact(&mut tx, id, &data, now).await?;
        let changes = [
            ("email", old.email.clone(), data.email.clone()),
            ("name", old.name.clone(), data.name.clone()),
            ("phone", old.phone.clone(), data.phone.clone()),
            ("language", old.language.clone(), data.language.clone()),
            ("customer_id", format!("{:?}", old.customer_id), format!("{:?}", data.customer_id)),
        ];
        for (field, o, v) in changes {
            if o != v {
                audit(&mut tx, actor, None, "contact", id, "set", Some(field), Some(o), Some(v), now).await?;
            }
        }
        let c = store::people::contact(&mut tx, id).await?.ok_or_else(|| Error::NotFound(format!("contact {id}")))?;
        let v = self.contact_view(&mut tx, c).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Creates an API token acting with `role` (as `user_email` when given); returns its secret
    /// once. Admins only.
    pub async fn create_token(
        &self,
        actor: &Actor,
        token_name: &str,
        role: Role,
        user_email: Option<&str>,
    ) -> Result<NewTokenView> {
        actor.require_admin()?;
        let mut p = Problems::default();
        let n = name(&mut p, "name", token_name);
        if !matches!(role, Role::Admin | Role::Agent) {
            p.add("role", "admin or agent");
        }
        p.finish()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        let user_id = match user_email {
            Some(e) => {
                let u = store::people::user_by_email(&mut tx, &e.trim().to_lowercase())
                    .await?
                    .ok_or_else(|| Error::invalid("user", format!("no user `{e}`")))?;
                if role == Role::Admin && u.role != Role::Admin {
                    return Err(Error::invalid("role", format!("`{e}` is not an admin")));
                }
                if !matches!(u.role, Role::Admin | Role::Agent) {
                    return Err(Error::invalid(
                        "user",
                        format!("`{e}` is a {}: API tokens are for admins and agents", u.role),
                    ));
                }
                Some(u.id)
            }
            None => None,
        };
        let secret = auth::new_token_secret();
        let row = store::people::insert_token(&mut tx, &n, &auth::token_hash(&secret), role, user_id, now).await?;
        audit(&mut tx, actor, None, "token", row.id, "created", None, None, Some(format!("{n} ({role})")), now).await?;
        tx.commit().await?;
        Ok(NewTokenView { token: row.into(), secret })
    }

    /// Every API token (never their secrets). Admins only.
    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenView>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        Ok(store::people::tokens(&mut tx).await?.into_iter().map(TokenView::from).collect())
    }

    /// Revokes an API token. Admins only.
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<()> {
        actor.require_admin()?;
        let now = store::micros(self.now());
        let mut tx = self.db.write().await?;
        if !store::people::revoke_token(&mut tx, id, now).await? {
            return Err(Error::NotFound(format!("active token {id}")));
        }
        audit(&mut tx, actor, None, "token", id, "revoked", None, None, None, now).await?;
        tx.commit().await?;
        self.forget_tokens();
        Ok(())
    }

    /// The history of a non-ticket subject (`queue`, `user`, `partner`, `customer`, `contact`, `token`). Admins only.
    pub async fn subject_events(&self, actor: &Actor, subject: &str, id: i64) -> Result<Vec<EventView>> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        Ok(store::events::for_subject(&mut tx, subject, id).await?.into_iter().map(EventView::from).collect())
    }
}

pub use store::bulk::{BulkMessage, BulkTicket};

/// What a bulk load refers to: queues `(id, reference prefix)`, agents `(id, label)`, contacts
/// `(id, customer id, email)`.
#[derive(Debug, Clone, Default)]
pub struct BulkRefs {
    /// Queues.
    pub queues: Vec<(i64, String)>,
    /// Agents.
    pub agents: Vec<(i64, String)>,
    /// Contacts.
    pub contacts: Vec<(i64, Option<i64>, String)>,
}

impl App {
    /// The queues, agents and contacts a bulk load can refer to by id. Admins only.
    pub async fn bulk_refs(&self, actor: &Actor) -> Result<BulkRefs> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        Ok(BulkRefs {
            queues: store::queues::all(&mut tx).await?.into_iter().map(|q| (q.id, q.reference_prefix)).collect(),
            agents: store::people::users(&mut tx)
                .await?
                .into_iter()
                .filter(|u| u.role == Role::Agent)
                .map(|u| (u.id, format!("{} <{}>", u.name, u.email)))
                .collect(),
            contacts: store::people::contacts(&mut tx, None)
                .await?
                .into_iter()
                .map(|c| (c.id, c.customer_id, c.email))
                .collect(),
        })
    }

    /// The next free ticket and message numbers, for a bulk load. Admins only.
    pub async fn bulk_next_ids(&self, actor: &Actor) -> Result<(i64, i64)> {
        actor.require_admin()?;
        let mut tx = self.db.read().await?;
        Ok(store::bulk::next_ids(&mut tx).await?)
    }

    /// Loads prepared tickets in one transaction (seeding, imports). Admins only.
    pub async fn bulk_load(&self, actor: &Actor, tickets: &[BulkTicket]) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.write().await?;
        store::bulk::insert(&mut tx, tickets).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a bulk load: id sequences and planner statistics. Admins only.
    pub async fn bulk_finish(&self, actor: &Actor) -> Result<()> {
        actor.require_admin()?;
        let mut tx = self.db.write().await?;
        store::bulk::finish(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
