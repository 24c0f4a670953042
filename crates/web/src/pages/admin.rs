//! Admin pages: queues and custom fields, users and rights, partners, customers, contacts, API
//! tokens, invitations. Admins only (others get a 403 page). Every form posts with the session's
//! CSRF token; a change that works redirects (POST-redirect-GET), one that is refused shows the
//! form again with what was typed and the problems, with status 400.

use std::collections::HashMap;

use app::admin::{ContactInput, CustomerInput, FieldInput, QueueInput, UserInput};
use app::invitations::{Invitee, NewInvitation};
use app::sessions::Session;
use app::views::{CustomerView, FieldView, NewTokenView, PartnerView, QueueView, TokenView, UserView};
use app::{Error, FieldProblem};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::{CustomFieldKind, PartnerKind, QueueRights, Role};
use serde::Deserialize;

use super::form::Submitted;
use super::people::{partner_kind, path_id};
use super::{Me, PageError, Tr, Viewer, check_csrf, encode, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/queues", get(queues))
        .route("/admin/queues/new", get(new_queue).post(create_queue))
        .route("/admin/queues/{slug}", get(edit_queue).post(update_queue))
        .route("/admin/queues/{slug}/fields", post(save_field))
        .route("/admin/queues/{slug}/fields/{name}/delete", post(delete_field))
        .route("/admin/users", get(users))
        .route("/admin/users/new", get(new_user).post(create_user))
        .route("/admin/users/{id}", get(edit_user).post(update_user))
        .route("/admin/users/{id}/rights", post(save_rights))
        .route("/admin/users/{id}/invite", post(invite_user))
        .route("/admin/partners", get(partners))
        .route("/admin/partners/new", get(new_partner).post(create_partner))
        .route("/admin/partners/{id}", get(edit_partner).post(update_partner))
        .route("/admin/customers", get(customers))
        .route("/admin/customers/new", get(new_customer).post(create_customer))
        .route("/admin/customers/{code}", get(edit_customer).post(update_customer))
        .route("/admin/contacts", get(contacts))
        .route("/admin/contacts/new", get(new_contact).post(create_contact))
        .route("/admin/contacts/{id}", get(edit_contact).post(update_contact))
        .route("/admin/contacts/{id}/invite", post(invite_contact))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

// ----- shared -----

/// The session of an administrator; others get a 403 page (or the login page).
pub(super) fn admin(viewer: &Viewer) -> Result<&Session, PageError> {
    let s = viewer.require()?;
    s.actor.require_admin().map_err(viewer.err())?;
    Ok(s)
}

/// The administrator's session for a posted form whose CSRF token is right.
pub(super) fn posted<'a>(viewer: &'a Viewer, f: &Submitted) -> Result<&'a Session, PageError> {
    let s = admin(viewer)?;
    check_csrf(viewer, f.get("csrf").unwrap_or(""))?;
    Ok(s)
}

/// The problems to show beside a form, for a refusal the person can fix; other errors fail the page.
pub(super) fn problems(viewer: &Viewer, e: Error) -> Result<Vec<FieldProblem>, PageError> {
    match e {
        Error::Invalid(p) => Ok(p),
        Error::Conflict(m) => Ok(vec![FieldProblem { field: String::new(), message: m }]),
        e => Err(viewer.err()(e)),
    }
}

pub(super) fn invalid(page: &impl Template) -> Response {
    (StatusCode::BAD_REQUEST, render(page)).into_response()
}

pub(super) fn to(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// One option of a select.
pub(super) struct Opt {
    pub(super) value: String,
    pub(super) label: String,
    pub(super) selected: bool,
}

pub(super) fn opt(value: impl Into<String>, label: String, selected: &str) -> Opt {
    let value = value.into();
    let selected = value == selected;
    Opt { value, label, selected }
}

fn role_label(tr: &Tr, role: Role) -> String {
    match role {
        Role::Admin => tr.t("admin-role-admin"),
        Role::Agent => tr.t("admin-role-agent"),
        Role::Partner => tr.t("admin-role-partner"),
        Role::Contact => tr.t("admin-role-contact"),
    }
}

fn field_kind_label(tr: &Tr, kind: CustomFieldKind) -> String {
    match kind {
        CustomFieldKind::Text => tr.t("admin-field-kind-text"),
        CustomFieldKind::Number => tr.t("admin-field-kind-number"),
        CustomFieldKind::Date => tr.t("admin-field-kind-date"),
        CustomFieldKind::Choice => tr.t("admin-field-kind-choice"),
    }
}

fn language_label(tr: &Tr, code: &str) -> String {
    match code {
        "it" => tr.t("admin-language-it"),
        "ca" => tr.t("admin-language-ca"),
        _ => tr.t("admin-language-en"),
    }
}

/// The partners as options, with "none" first.
fn partner_opts(tr: &Tr, partners: &[PartnerView], selected: &str) -> Vec<Opt> {
    let mut out = vec![opt("", tr.t("admin-none"), selected)];
    out.extend(partners.iter().map(|p| opt(p.id.to_string(), p.name.clone(), selected)));
    out
}

fn optional_id(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

// ----- index -----

#[derive(Template)]
#[template(path = "admin_index.html")]
struct IndexPage {
    tr: Tr,
    me: Option<Me>,
}

async fn index(viewer: Viewer) -> Result<Response, PageError> {
    admin(&viewer)?;
    Ok(render(&IndexPage { me: viewer.me(), tr: viewer.tr.clone() }))
}

// ----- queues and custom fields -----

#[derive(Template)]
#[template(path = "admin_queues.html")]
struct QueuesPage {
    tr: Tr,
    me: Option<Me>,
    queues: Vec<QueueView>,
}

async fn queues(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let queues = state.app.queues(&s.actor).await.map_err(viewer.err())?;
    Ok(render(&QueuesPage { me: viewer.me(), tr: viewer.tr.clone(), queues }))
}

#[derive(Default)]
struct QueueForm {
    slug: String,
    name: String,
    description: String,
    reference_prefix: String,
    active: bool,
}

impl QueueForm {
    fn from_view(q: &QueueView) -> QueueForm {
        QueueForm {
            slug: q.slug.clone(),
            name: q.name.clone(),
            description: q.description.clone(),
            reference_prefix: q.reference_prefix.clone(),
            active: q.active,
        }
    }

    fn from_submitted(f: &Submitted) -> QueueForm {
        QueueForm {
            slug: f.text("slug"),
            name: f.text("name"),
            description: f.text("description"),
            reference_prefix: f.text("reference_prefix"),
            active: f.checked("active"),
        }
    }

    fn input(&self) -> QueueInput {
        QueueInput {
            slug: self.slug.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            reference_prefix: Some(self.reference_prefix.clone()).filter(|p| !p.is_empty()),
            active: Some(self.active),
        }
    }
}

struct FieldForm {
    name: String,
    label: String,
    kind: String,
    choices: String,
    required: bool,
    position: String,
}

impl FieldForm {
    fn blank(position: usize) -> FieldForm {
        FieldForm {
            name: String::new(),
            label: String::new(),
            kind: "text".into(),
            choices: String::new(),
            required: false,
            position: position.to_string(),
        }
    }

    fn from_view(f: &FieldView) -> FieldForm {
        FieldForm {
            name: f.name.clone(),
            label: f.label.clone(),
            kind: f.kind.as_str().into(),
            choices: f.choices.join("\n"),
            required: f.required,
            position: f.position.to_string(),
        }
    }

    fn from_submitted(f: &Submitted) -> FieldForm {
        FieldForm {
            name: f.text("name"),
            label: f.text("label"),
            kind: f.text("kind"),
            choices: f.get("choices").unwrap_or("").to_owned(),
            required: f.checked("required"),
            position: f.text("position"),
        }
    }
}

/// A custom field as the queue page lists it.
struct FieldLine {
    field: FieldView,
    kind: String,
}

#[derive(Template)]
#[template(path = "admin_queue.html")]
struct QueuePage {
    tr: Tr,
    me: Option<Me>,
    /// The queue's slug as stored, when editing.
    editing: Option<String>,
    form: QueueForm,
    problems: Vec<FieldProblem>,
    fields: Vec<FieldLine>,
    field: FieldForm,
    kinds: Vec<Opt>,
    field_problems: Vec<FieldProblem>,
}

impl QueuePage {
    fn new(
        viewer: &Viewer,
        editing: Option<String>,
        form: QueueForm,
        fields: &[FieldView],
        field: FieldForm,
    ) -> QueuePage {
        let tr = viewer.tr.clone();
        let kinds =
            CustomFieldKind::ALL.iter().map(|k| opt(k.as_str(), field_kind_label(&tr, *k), &field.kind)).collect();
        let fields =
            fields.iter().map(|f| FieldLine { field: f.clone(), kind: field_kind_label(&tr, f.kind) }).collect();
        QueuePage {
            tr,
            me: viewer.me(),
            editing,
            form,
            problems: Vec::new(),
            fields,
            field,
            kinds,
            field_problems: Vec::new(),
        }
    }
}

async fn new_queue(viewer: Viewer) -> Result<Response, PageError> {
    admin(&viewer)?;
    let form = QueueForm { reference_prefix: "support".into(), active: true, ..Default::default() };
    Ok(render(&QueuePage::new(&viewer, None, form, &[], FieldForm::blank(1))))
}

async fn create_queue(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = QueueForm::from_submitted(&f);
    match state.app.create_queue(&s.actor, form.input()).await {
        Ok(q) => Ok(to(&format!("/admin/queues/{}", encode(&q.slug)))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            Ok(invalid(&QueuePage { problems, ..QueuePage::new(&viewer, None, form, &[], FieldForm::blank(1)) }))
        }
    }
}

#[derive(Deserialize)]
struct FieldQuery {
    field: Option<String>,
}

async fn edit_queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    Query(query): Query<FieldQuery>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let q = state.app.queue(&s.actor, &slug).await.map_err(viewer.err())?;
    let field = match query.field.as_deref().and_then(|n| q.fields.iter().find(|f| f.name == n)) {
        Some(f) => FieldForm::from_view(f),
        None => FieldForm::blank(q.fields.len() + 1),
    };
    Ok(render(&QueuePage::new(&viewer, Some(q.slug.clone()), QueueForm::from_view(&q), &q.fields, field)))
}

async fn update_queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = QueueForm::from_submitted(&f);
    match state.app.update_queue(&s.actor, &slug, form.input()).await {
        Ok(q) => Ok(to(&format!("/admin/queues/{}", encode(&q.slug)))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let q = state.app.queue(&s.actor, &slug).await.map_err(viewer.err())?;
            let page =
                QueuePage::new(&viewer, Some(q.slug.clone()), form, &q.fields, FieldForm::blank(q.fields.len() + 1));
            Ok(invalid(&QueuePage { problems, ..page }))
        }
    }
}

async fn save_field(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(slug): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let field = FieldForm::from_submitted(&f);
    let mut early = Vec::new();
    let kind = CustomFieldKind::parse(&field.kind);
    if kind.is_none() {
        early.push(FieldProblem { field: "kind".into(), message: format!("one of: {}", CustomFieldKind::names()) });
    }
    let position = field.position.parse::<i64>().ok().or_else(|| field.position.is_empty().then_some(0));
    if position.is_none() {
        early.push(FieldProblem { field: "position".into(), message: "a whole number".into() });
    }
    let result = match (kind, position) {
        (Some(kind), Some(position)) => {
            let input = FieldInput {
                name: field.name.clone(),
                label: field.label.clone(),
                kind,
                choices: field.choices.lines().map(str::to_owned).collect(),
                required: field.required,
                position,
            };
            state.app.set_field(&s.actor, &slug, input).await
        }
        _ => Err(Error::Invalid(early)),
    };
    match result {
        Ok(q) => Ok(to(&format!("/admin/queues/{}", encode(&q.slug)))),
        Err(e) => {
            let field_problems = problems(&viewer, e)?;
            let q = state.app.queue(&s.actor, &slug).await.map_err(viewer.err())?;
            let page = QueuePage::new(&viewer, Some(q.slug.clone()), QueueForm::from_view(&q), &q.fields, field);
            Ok(invalid(&QueuePage { field_problems, ..page }))
        }
    }
}

async fn delete_field(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((slug, name)): Path<(String, String)>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let q = state.app.delete_field(&s.actor, &slug, &name).await.map_err(viewer.err())?;
    Ok(to(&format!("/admin/queues/{}", encode(&q.slug))))
}

// ----- users and rights -----

struct UserLine {
    user: UserView,
    role: String,
    partner: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    tr: Tr,
    me: Option<Me>,
    users: Vec<UserLine>,
}

async fn users(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let err = viewer.err();
    let partners: HashMap<i64, String> =
        state.app.partners(&s.actor).await.map_err(&err)?.into_iter().map(|p| (p.id, p.name)).collect();
    let users = state
        .app
        .users(&s.actor)
        .await
        .map_err(&err)?
        .into_iter()
        .map(|u| UserLine {
            role: role_label(&viewer.tr, u.role),
            partner: u.partner_id.and_then(|id| partners.get(&id).cloned()),
            user: u,
        })
        .collect();
    Ok(render(&UsersPage { me: viewer.me(), tr: viewer.tr.clone(), users }))
}

#[derive(Default)]
struct UserForm {
    email: String,
    name: String,
    role: String,
    partner_id: String,
    active: bool,
}

impl UserForm {
    fn from_view(u: &UserView) -> UserForm {
        UserForm {
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.as_str().into(),
            partner_id: u.partner_id.map(|p| p.to_string()).unwrap_or_default(),
            active: u.active,
        }
    }

    fn from_submitted(f: &Submitted) -> UserForm {
        UserForm {
            email: f.text("email"),
            name: f.text("name"),
            role: f.text("role"),
            partner_id: f.text("partner_id"),
            active: f.checked("active"),
        }
    }

    fn input(&self) -> Result<UserInput, Error> {
        let role = match Role::parse(&self.role) {
            Some(r @ (Role::Admin | Role::Agent | Role::Partner)) => r,
            _ => return Err(Error::invalid("role", "admin, agent or partner")),
        };
        let partner_id = if role == Role::Partner { optional_id(&self.partner_id) } else { None };
        Ok(UserInput {
            email: self.email.clone(),
            name: self.name.clone(),
            role,
            partner_id,
            active: Some(self.active),
        })
    }
}

/// An agent's rights on one queue, as the checkboxes show them.
struct RightsLine {
    slug: String,
    name: String,
    rights: QueueRights,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    tr: Tr,
    me: Option<Me>,
    /// The user's id, when editing.
    editing: Option<i64>,
    form: UserForm,
    problems: Vec<FieldProblem>,
    roles: Vec<Opt>,
    partners: Vec<Opt>,
    /// Rights per queue (agents only).
    rights: Vec<RightsLine>,
    /// Until when the pending invitation works.
    invited_until: Option<String>,
}

impl UserPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        user: Option<&UserView>,
        form: UserForm,
    ) -> Result<UserPage, PageError> {
        let err = viewer.err();
        let tr = viewer.tr.clone();
        let roles = [Role::Agent, Role::Admin, Role::Partner]
            .iter()
            .map(|r| opt(r.as_str(), role_label(&tr, *r), &form.role))
            .collect();
        let partner_list = state.app.partners(&s.actor).await.map_err(&err)?;
        let partners = partner_opts(&tr, &partner_list, &form.partner_id);
        let mut rights = Vec::new();
        let mut invited_until = None;
        if let Some(u) = user {
            if u.role == Role::Agent {
                for q in state.app.queues(&s.actor).await.map_err(&err)? {
                    let r = u.rights.get(&q.slug).copied().unwrap_or_default();
                    rights.push(RightsLine { slug: q.slug, name: q.name, rights: r });
                }
            }
            invited_until =
                state.app.pending_invitation(&s.actor, Invitee::User(u.id)).await.map_err(&err)?.map(|t| tr.when(&t));
        }
        Ok(UserPage {
            tr,
            me: viewer.me(),
            editing: user.map(|u| u.id),
            form,
            problems: Vec::new(),
            roles,
            partners,
            rights,
            invited_until,
        })
    }
}

async fn new_user(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let form = UserForm { role: "agent".into(), active: true, ..Default::default() };
    Ok(render(&UserPage::load(&state, &viewer, s, None, form).await?))
}

async fn create_user(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = UserForm::from_submitted(&f);
    let result = match form.input() {
        Ok(input) => state.app.create_user(&s.actor, input, None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(u) => Ok(to(&format!("/admin/users/{}", u.id))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = UserPage::load(&state, &viewer, s, None, form).await?;
            Ok(invalid(&UserPage { problems, ..page }))
        }
    }
}

async fn edit_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let id = path_id(&viewer, &id)?;
    let u = state.app.user(&s.actor, id).await.map_err(viewer.err())?;
    Ok(render(&UserPage::load(&state, &viewer, s, Some(&u), UserForm::from_view(&u)).await?))
}

async fn update_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let form = UserForm::from_submitted(&f);
    let result = match form.input() {
        Ok(input) => state.app.update_user(&s.actor, id, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(u) => Ok(to(&format!("/admin/users/{}", u.id))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let u = state.app.user(&s.actor, id).await.map_err(viewer.err())?;
            let page = UserPage::load(&state, &viewer, s, Some(&u), form).await?;
            Ok(invalid(&UserPage { problems, ..page }))
        }
    }
}

async fn save_rights(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let err = viewer.err();
    let u = state.app.user(&s.actor, id).await.map_err(&err)?;
    for q in state.app.queues(&s.actor).await.map_err(&err)? {
        let r = QueueRights {
            see: f.checked(&format!("see-{}", q.slug)),
            reply: f.checked(&format!("reply-{}", q.slug)),
            comment: f.checked(&format!("comment-{}", q.slug)),
            own: f.checked(&format!("own-{}", q.slug)),
        };
        if u.rights.get(&q.slug).copied().unwrap_or_default() != r {
            state.app.set_rights(&s.actor, id, &q.slug, r).await.map_err(&err)?;
        }
    }
    Ok(to(&format!("/admin/users/{id}")))
}

#[derive(Template)]
#[template(path = "admin_invited.html")]
struct InvitedPage {
    tr: Tr,
    me: Option<Me>,
    email: String,
    link: String,
    until: String,
    back: String,
}

fn invited(state: &AppState, viewer: &Viewer, inv: NewInvitation, back: String) -> Response {
    // With no public address configured, the link is relative to this site's own address.
    let base = state.pages.public_url.as_deref().unwrap_or("");
    let page = InvitedPage {
        me: viewer.me(),
        tr: viewer.tr.clone(),
        link: format!("{base}/invite/{}", inv.secret),
        until: viewer.tr.when(&inv.expires_at),
        email: inv.email,
        back,
    };
    render(&page)
}

async fn invite_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let inv = state.app.invite(&s.actor, Invitee::User(id)).await.map_err(viewer.err())?;
    Ok(invited(&state, &viewer, inv, format!("/admin/users/{id}")))
}

// ----- partners -----

struct PartnerLine {
    partner: PartnerView,
    kind: String,
}

#[derive(Template)]
#[template(path = "admin_partners.html")]
struct PartnersPage {
    tr: Tr,
    me: Option<Me>,
    partners: Vec<PartnerLine>,
}

async fn partners(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let partners = state
        .app
        .partners(&s.actor)
        .await
        .map_err(viewer.err())?
        .into_iter()
        .map(|p| PartnerLine { kind: partner_kind(&viewer.tr, p.kind), partner: p })
        .collect();
    Ok(render(&PartnersPage { me: viewer.me(), tr: viewer.tr.clone(), partners }))
}

#[derive(Template)]
#[template(path = "admin_partner.html")]
struct PartnerPage {
    tr: Tr,
    me: Option<Me>,
    editing: Option<i64>,
    name: String,
    kinds: Vec<Opt>,
    problems: Vec<FieldProblem>,
}

impl PartnerPage {
    fn new(viewer: &Viewer, editing: Option<i64>, name: String, kind: &str) -> PartnerPage {
        let tr = viewer.tr.clone();
        let kinds = PartnerKind::ALL.iter().map(|k| opt(k.as_str(), partner_kind(&tr, *k), kind)).collect();
        PartnerPage { tr, me: viewer.me(), editing, name, kinds, problems: Vec::new() }
    }
}

async fn new_partner(viewer: Viewer) -> Result<Response, PageError> {
    admin(&viewer)?;
    Ok(render(&PartnerPage::new(&viewer, None, String::new(), "msp")))
}

async fn save_partner(
    state: &AppState,
    viewer: &Viewer,
    id: Option<i64>,
    f: &Submitted,
) -> Result<Response, PageError> {
    let s = posted(viewer, f)?;
    let (name, kind_text) = (f.text("name"), f.text("kind"));
    let result = match PartnerKind::parse(&kind_text) {
        Some(kind) => state.app.save_partner(&s.actor, id, &name, kind).await,
        None => Err(Error::invalid("kind", format!("one of: {}", PartnerKind::names()))),
    };
    match result {
        Ok(p) => Ok(to(&format!("/partners/{}", p.id))),
        Err(e) => {
            let problems = problems(viewer, e)?;
            Ok(invalid(&PartnerPage { problems, ..PartnerPage::new(viewer, id, name, &kind_text) }))
        }
    }
}

async fn create_partner(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    save_partner(&state, &viewer, None, &f).await
}

async fn edit_partner(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let id = path_id(&viewer, &id)?;
    let p = state.app.partner(&s.actor, id).await.map_err(viewer.err())?;
    Ok(render(&PartnerPage::new(&viewer, Some(p.id), p.name, p.kind.as_str())))
}

async fn update_partner(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let id = path_id(&viewer, &id)?;
    save_partner(&state, &viewer, Some(id), &f).await
}

// ----- customers -----

#[derive(Template)]
#[template(path = "admin_customers.html")]
struct CustomersPage {
    tr: Tr,
    me: Option<Me>,
    customers: Vec<CustomerView>,
}

async fn customers(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let customers = state.app.customers(&s.actor).await.map_err(viewer.err())?;
    Ok(render(&CustomersPage { me: viewer.me(), tr: viewer.tr.clone(), customers }))
}

#[derive(Default)]
struct CustomerForm {
    code: String,
    name: String,
    vip: bool,
    partner_id: String,
}

impl CustomerForm {
    fn from_submitted(f: &Submitted) -> CustomerForm {
        CustomerForm {
            code: f.text("code"),
            name: f.text("name"),
            vip: f.checked("vip"),
            partner_id: f.text("partner_id"),
        }
    }

    fn input(&self) -> CustomerInput {
        CustomerInput {
            code: self.code.clone(),
            name: self.name.clone(),
            vip: self.vip,
            partner_id: optional_id(&self.partner_id),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_customer.html")]
struct CustomerPage {
    tr: Tr,
    me: Option<Me>,
    /// The customer's code, when editing.
    editing: Option<String>,
    form: CustomerForm,
    partners: Vec<Opt>,
    problems: Vec<FieldProblem>,
}

impl CustomerPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        editing: Option<String>,
        form: CustomerForm,
    ) -> Result<CustomerPage, PageError> {
        let list = state.app.partners(&s.actor).await.map_err(viewer.err())?;
        let partners = partner_opts(&viewer.tr, &list, &form.partner_id);
        Ok(CustomerPage { tr: viewer.tr.clone(), me: viewer.me(), editing, form, partners, problems: Vec::new() })
    }
}

async fn new_customer(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    Ok(render(&CustomerPage::load(&state, &viewer, s, None, CustomerForm::default()).await?))
}

async fn create_customer(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = CustomerForm::from_submitted(&f);
    match state.app.create_customer(&s.actor, form.input()).await {
        Ok(c) => Ok(to(&format!("/customers/{}", encode(&c.code)))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = CustomerPage::load(&state, &viewer, s, None, form).await?;
            Ok(invalid(&CustomerPage { problems, ..page }))
        }
    }
}

async fn edit_customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let c = state.app.customer(&s.actor, &code).await.map_err(viewer.err())?;
    let form = CustomerForm {
        code: c.code.clone(),
        name: c.name,
        vip: c.vip,
        partner_id: c.partner_id.map(|p| p.to_string()).unwrap_or_default(),
    };
    Ok(render(&CustomerPage::load(&state, &viewer, s, Some(c.code), form).await?))
}

async fn update_customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = CustomerForm { code: code.clone(), ..CustomerForm::from_submitted(&f) };
    match state.app.update_customer(&s.actor, &code, form.input()).await {
        Ok(c) => Ok(to(&format!("/customers/{}", encode(&c.code)))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = CustomerPage::load(&state, &viewer, s, Some(code), form).await?;
            Ok(invalid(&CustomerPage { problems, ..page }))
        }
    }
}

// ----- contacts -----

#[derive(Deserialize)]
struct CustomerQuery {
    customer: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_contacts.html")]
struct ContactsPage {
    tr: Tr,
    me: Option<Me>,
    customer: Option<String>,
    contacts: Vec<app::views::ContactView>,
}

async fn contacts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CustomerQuery>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let customer = query.customer.filter(|c| !c.trim().is_empty());
    let contacts = state.app.contacts(&s.actor, customer.as_deref()).await.map_err(viewer.err())?;
    Ok(render(&ContactsPage { me: viewer.me(), tr: viewer.tr.clone(), customer, contacts }))
}

#[derive(Default)]
struct ContactForm {
    email: String,
    name: String,
    phone: String,
    language: String,
    customer: String,
}

impl ContactForm {
    fn from_submitted(f: &Submitted) -> ContactForm {
        ContactForm {
            email: f.text("email"),
            name: f.text("name"),
            phone: f.text("phone"),
            language: f.text("language"),
            customer: f.text("customer"),
        }
    }

    fn input(&self) -> ContactInput {
        ContactInput {
            email: self.email.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            language: Some(self.language.clone()).filter(|l| !l.is_empty()),
            customer: Some(self.customer.clone()).filter(|c| !c.is_empty()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_contact.html")]
struct ContactPage {
    tr: Tr,
    me: Option<Me>,
    /// The contact's id, when editing.
    editing: Option<i64>,
    form: ContactForm,
    languages: Vec<Opt>,
    customers: Vec<Opt>,
    problems: Vec<FieldProblem>,
    invited_until: Option<String>,
}

impl ContactPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        editing: Option<i64>,
        form: ContactForm,
    ) -> Result<ContactPage, PageError> {
        let err = viewer.err();
        let tr = viewer.tr.clone();
        let languages = app::admin::LANGUAGES.iter().map(|l| opt(*l, language_label(&tr, l), &form.language)).collect();
        let mut customers = vec![opt("", tr.t("admin-none"), &form.customer)];
        for c in state.app.customers(&s.actor).await.map_err(&err)? {
            customers.push(opt(c.code.clone(), format!("{} · {}", c.code, c.name), &form.customer));
        }
        let invited_until = match editing {
            Some(id) => {
                state.app.pending_invitation(&s.actor, Invitee::Contact(id)).await.map_err(&err)?.map(|t| tr.when(&t))
            }
            None => None,
        };
        Ok(ContactPage {
            tr,
            me: viewer.me(),
            editing,
            form,
            languages,
            customers,
            problems: Vec::new(),
            invited_until,
        })
    }
}

async fn new_contact(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<CustomerQuery>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let form = ContactForm {
        language: viewer.tr.lang.to_owned(),
        customer: query.customer.unwrap_or_default(),
        ..Default::default()
    };
    Ok(render(&ContactPage::load(&state, &viewer, s, None, form).await?))
}

async fn create_contact(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let form = ContactForm::from_submitted(&f);
    match state.app.create_contact(&s.actor, form.input()).await {
        Ok(c) => Ok(to(&format!("/admin/contacts/{}", c.id))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = ContactPage::load(&state, &viewer, s, None, form).await?;
            Ok(invalid(&ContactPage { problems, ..page }))
        }
    }
}

async fn edit_contact(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    let id = path_id(&viewer, &id)?;
    let c = state.app.contact(&s.actor, id).await.map_err(viewer.err())?;
    let form = ContactForm {
        email: c.email,
        name: c.name,
        phone: c.phone,
        language: c.language,
        customer: c.customer.unwrap_or_default(),
    };
    Ok(render(&ContactPage::load(&state, &viewer, s, Some(id), form).await?))
}

async fn update_contact(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let form = ContactForm::from_submitted(&f);
    match state.app.update_contact(&s.actor, id, form.input()).await {
        Ok(c) => Ok(to(&format!("/admin/contacts/{}", c.id))),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = ContactPage::load(&state, &viewer, s, Some(id), form).await?;
            Ok(invalid(&ContactPage { problems, ..page }))
        }
    }
}

async fn invite_contact(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    let inv = state.app.invite(&s.actor, Invitee::Contact(id)).await.map_err(viewer.err())?;
    Ok(invited(&state, &viewer, inv, format!("/admin/contacts/{id}")))
}

// ----- API tokens -----

struct TokenLine {
    token: TokenView,
    role: String,
    user: Option<String>,
    created: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    tr: Tr,
    me: Option<Me>,
    tokens: Vec<TokenLine>,
    name: String,
    roles: Vec<Opt>,
    user: String,
    problems: Vec<FieldProblem>,
}

impl TokensPage {
    async fn load(
        state: &AppState,
        viewer: &Viewer,
        s: &Session,
        name: String,
        role: &str,
        user: String,
    ) -> Result<TokensPage, PageError> {
        let err = viewer.err();
        let tr = viewer.tr.clone();
        let emails: HashMap<i64, String> =
            state.app.users(&s.actor).await.map_err(&err)?.into_iter().map(|u| (u.id, u.email)).collect();
        let tokens = state
            .app
            .tokens(&s.actor)
            .await
            .map_err(&err)?
            .into_iter()
            .map(|t| TokenLine {
                role: role_label(&tr, t.role),
                user: t.user_id.and_then(|id| emails.get(&id).cloned()),
                created: tr.when(&t.created_at),
                revoked: t.revoked_at.as_ref().map(|r| tr.when(r)),
                token: t,
            })
            .collect();
        let roles = [Role::Agent, Role::Admin].iter().map(|r| opt(r.as_str(), role_label(&tr, *r), role)).collect();
        Ok(TokensPage { tr, me: viewer.me(), tokens, name, roles, user, problems: Vec::new() })
    }
}

async fn tokens(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let s = admin(&viewer)?;
    Ok(render(&TokensPage::load(&state, &viewer, s, String::new(), "agent", String::new()).await?))
}

#[derive(Template)]
#[template(path = "admin_token_created.html")]
struct TokenCreatedPage {
    tr: Tr,
    me: Option<Me>,
    created: NewTokenView,
}

async fn create_token(State(state): State<AppState>, viewer: Viewer, f: Submitted) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let (name, role_text, user) = (f.text("name"), f.text("role"), f.text("user"));
    let result = match Role::parse(&role_text) {
        Some(role) => {
            state.app.create_token(&s.actor, &name, role, Some(user.as_str()).filter(|u| !u.is_empty())).await
        }
        None => Err(Error::invalid("role", "admin or agent")),
    };
    match result {
        // Shown once, never stored: no redirect, and the page is not cached (no-store).
        Ok(created) => Ok(render(&TokenCreatedPage { me: viewer.me(), tr: viewer.tr.clone(), created })),
        Err(e) => {
            let problems = problems(&viewer, e)?;
            let page = TokensPage::load(&state, &viewer, s, name, &role_text, user).await?;
            Ok(invalid(&TokensPage { problems, ..page }))
        }
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    f: Submitted,
) -> Result<Response, PageError> {
    let s = posted(&viewer, &f)?;
    let id = path_id(&viewer, &id)?;
    state.app.revoke_token(&s.actor, id).await.map_err(viewer.err())?;
    Ok(to("/admin/tokens"))
}
