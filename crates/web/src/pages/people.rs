//! Agent pages about people: a customer (its contract, contacts, tickets), a partner (its
//! customers), a contact.
//! Staff only: portal users get a 404, as for anything that is not theirs.

use std::collections::HashMap;

use app::Error;
use app::sessions::Session;
use app::sla::ContractView;
use app::tickets::ListInput;
use app::views::{ContactView, CustomerView, PartnerView, TicketSummary};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use domain::{PartnerKind, Status};
use serde::Deserialize;

use super::{Me, PageError, Tr, Viewer, render};
use crate::AppState;

/// The routes of these pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(customers))
        .route("/customers/{code}", get(customer))
        .route("/partners/{id}", get(partner))
        .route("/contacts/{id}", get(contact))
}

/// The session of a staff member; anyone else is told the page does not exist.
pub(crate) fn staff(viewer: &Viewer) -> Result<&Session, PageError> {
    let s = viewer.require()?;
    if s.portal || !s.actor.is_staff() {
        return Err(viewer.err()(Error::NotFound("page".into())));
    }
    Ok(s)
}

/// A number in a path, or a 404.
pub(crate) fn path_id(viewer: &Viewer, text: &str) -> Result<i64, PageError> {
    text.parse().map_err(|_| viewer.err()(Error::NotFound(text.to_owned())))
}

/// The translated name of a kind of partner.
pub(crate) fn partner_kind(tr: &Tr, kind: PartnerKind) -> String {
    match kind {
        PartnerKind::Msp => tr.t("people-kind-msp"),
        PartnerKind::MultiUtility => tr.t("people-kind-multi-utility"),
        PartnerKind::SystemIntegrator => tr.t("people-kind-system-integrator"),
    }
}

const OPEN: [Status; 3] = [Status::New, Status::Open, Status::Stalled];
const CLOSED: [Status; 2] = [Status::Resolved, Status::Rejected];

/// One line of the customer list.
struct CustomerLine {
    customer: CustomerView,
    partner: Option<PartnerView>,
}

#[derive(Template)]
#[template(path = "people_customers.html")]
struct CustomersPage {
    tr: Tr,
    me: Option<Me>,
    q: String,
    lines: Vec<CustomerLine>,
    admin: bool,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn customers(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let partners: HashMap<i64, PartnerView> =
        state.app.partners(&s.actor).await.map_err(&err)?.into_iter().map(|p| (p.id, p)).collect();
    let q = query.q.trim().to_owned();
    let needle = q.to_lowercase();
    let lines = state
        .app
        .customers(&s.actor)
        .await
        .map_err(&err)?
        .into_iter()
        .filter(|c| {
            needle.is_empty() || c.code.to_lowercase().contains(&needle) || c.name.to_lowercase().contains(&needle)
        })
        .map(|c| CustomerLine { partner: c.partner_id.and_then(|id| partners.get(&id).cloned()), customer: c })
        .collect();
    let admin = s.actor.require_admin().is_ok();
    Ok(render(&CustomersPage { me: viewer.me(), tr: viewer.tr.clone(), q, lines, admin }))
}

/// A contract as the customer page shows it.
pub(crate) struct ContractLine {
    pub contract: ContractView,
    /// The support level's name.
    pub level: String,
    /// Included support time in words.
    pub included: String,
    /// The partner's name, for a partner's contract.
    pub partner: Option<String>,
}

impl ContractLine {
    pub(crate) fn new(
        tr: &Tr,
        contract: ContractView,
        levels: &[app::sla::LevelView],
        partners: &HashMap<i64, String>,
    ) -> ContractLine {
        ContractLine {
            level: levels
                .iter()
                .find(|l| l.slug == contract.level)
                .map(|l| l.name.clone())
                .unwrap_or_else(|| contract.level.clone()),
            included: super::sla::hours(tr, contract.included_minutes),
            partner: contract.partner_id.and_then(|id| partners.get(&id).cloned()),
            contract,
        }
    }
}

#[derive(Template)]
#[template(path = "people_customer.html")]
struct CustomerPage {
    tr: Tr,
    me: Option<Me>,
    customer: CustomerView,
    partner: Option<PartnerView>,
    contacts: Vec<ContactView>,
    open: Vec<TicketSummary>,
    closed: Vec<TicketSummary>,
    admin: bool,
    /// The contract in force today; none: support on request.
    in_force: Option<ContractLine>,
    /// The customer's other contracts (past, future, or the partner's set aside by its own).
    contracts: Vec<ContractLine>,
    /// The customer's lines (the first ones).
    lines: Vec<app::inventory::LineView>,
    /// How many lines in all.
    line_count: usize,
    /// The notices touching the customer's lines.
    banners: Vec<super::notices::Banner>,
}

/// The most lines the customer page lists.
const CUSTOMER_LINES_SHOWN: usize = 200;

async fn customer(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let customer = state.app.customer(&s.actor, &code).await.map_err(&err)?;
    let partner = match customer.partner_id {
        Some(id) => Some(state.app.partner(&s.actor, id).await.map_err(&err)?),
        None => None,
    };
    let contacts = state.app.contacts(&s.actor, Some(&customer.code)).await.map_err(&err)?;
    let list = |statuses: &[Status], order: &str, limit: i64| ListInput {
        customer: Some(customer.code.clone()),
        statuses: statuses.to_vec(),
        order: Some(order.into()),
        limit: Some(limit),
        ..Default::default()
    };
    let open = state.app.list_tickets(&s.actor, list(&OPEN, "priority", 100)).await.map_err(&err)?.tickets;
    let closed = state.app.list_tickets(&s.actor, list(&CLOSED, "updated", 50)).await.map_err(&err)?.tickets;
    let admin = s.actor.require_admin().is_ok();
    let today = state.app.now().to_zoned(viewer.tr.tz.clone()).date();
    let levels = state.app.support_levels(&s.actor).await.map_err(&err)?;
    let partners: HashMap<i64, String> =
        state.app.partners(&s.actor).await.map_err(&err)?.into_iter().map(|p| (p.id, p.name)).collect();
    let in_force = state.app.contract_in_force(&s.actor, &customer.code, today).await.map_err(&err)?;
    let contracts = state
        .app
        .contracts_of_customer(&s.actor, &customer.code)
        .await
        .map_err(&err)?
        .into_iter()
        .filter(|k| in_force.as_ref().is_none_or(|f| f.id != k.id))
        .map(|k| ContractLine::new(&viewer.tr, k, &levels, &partners))
        .collect();
    let in_force = in_force.map(|k| ContractLine::new(&viewer.tr, k, &levels, &partners));
    let mut lines = state.app.customer_lines(&s.actor, &customer.code).await.map_err(&err)?;
    let line_count = lines.len();
    lines.truncate(CUSTOMER_LINES_SHOWN);
    let banners = state
        .app
        .customer_notices(&s.actor, &customer.code)
        .await
        .map_err(&err)?
        .iter()
        .map(|n| super::notices::banner(&viewer.tr, n, &[], "/notices", "/lines"))
        .collect();
    Ok(render(&CustomerPage {
        lines,
        line_count,
        banners,
        in_force,
        contracts,
        me: viewer.me(),
        tr: viewer.tr.clone(),
        customer,
        partner,
        contacts,
        open,
        closed,
        admin,
    }))
}

#[derive(Template)]
#[template(path = "people_partner.html")]
struct PartnerPage {
    tr: Tr,
    me: Option<Me>,
    partner: PartnerView,
    kind: String,
    customers: Vec<CustomerView>,
    admin: bool,
}

async fn partner(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let id = path_id(&viewer, &id)?;
    let partner = state.app.partner(&s.actor, id).await.map_err(&err)?;
    let customers =
        state.app.customers(&s.actor).await.map_err(&err)?.into_iter().filter(|c| c.partner_id == Some(id)).collect();
    let kind = partner_kind(&viewer.tr, partner.kind);
    let admin = s.actor.require_admin().is_ok();
    Ok(render(&PartnerPage { me: viewer.me(), tr: viewer.tr.clone(), partner, kind, customers, admin }))
}

#[derive(Template)]
#[template(path = "people_contact.html")]
struct ContactPage {
    tr: Tr,
    me: Option<Me>,
    contact: ContactView,
    tickets: Vec<TicketSummary>,
    admin: bool,
}

async fn contact(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Result<Response, PageError> {
    let s = staff(&viewer)?;
    let err = viewer.err();
    let id = path_id(&viewer, &id)?;
    let contact = state.app.contact(&s.actor, id).await.map_err(&err)?;
    let input = ListInput {
        q: Some(format!("requestor:{}", contact.email)),
        order: Some("updated".into()),
        limit: Some(100),
        ..Default::default()
    };
    let mut tickets = state.app.list_tickets(&s.actor, input).await.map_err(&err)?.tickets;
    // Open ones first, each group most recently changed first.
    tickets.sort_by_key(|t| !OPEN.contains(&t.status));
    let admin = s.actor.require_admin().is_ok();
    Ok(render(&ContactPage { me: viewer.me(), tr: viewer.tr.clone(), contact, tickets, admin }))
}
