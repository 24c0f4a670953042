//! Live updates by server-sent events: new tickets in a queue view, changes to an open ticket.
//!
//! Changes are read from the events table (the audit trail every change writes in its own
//! transaction), so a change made on any node reaches readers on every node. One poller per
//! process reads new events once a second while at least one page listens, and fans them out
//! to the listeners; each listener checks the reader's rights before relaying anything.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::App;
use app::views::EventView;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use serde::Serialize;
use tokio::sync::broadcast;

use super::queue::Filters;
use super::{PageError, SESSION_COOKIE, Viewer, cookie};
use crate::AppState;

/// How often the poller reads new events.
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long one feed lasts. The browser's `EventSource` then reconnects, and the new request
/// checks the session and the reader's rights again.
pub const FEED_LIFETIME: Duration = Duration::from_secs(300);

/// The routes of the live feeds.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/live/tickets", get(queue_feed)).route("/live/tickets/{number}", get(ticket_feed))
}

/// Fans recorded ticket changes out to the pages listening on this node.
pub struct Hub {
    app: App,
    sender: broadcast::Sender<Arc<EventView>>,
    /// The poller, while one runs; taken under this lock by the poller when nobody listens.
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Hub {
    /// A hub over the application's events; nothing runs until a page listens.
    pub fn new(app: App) -> Arc<Hub> {
        let (sender, _) = broadcast::channel(1024);
        Arc::new(Hub { app, sender, poller: Mutex::new(None) })
    }

    /// Listens to the changes recorded from now on, starting the poller if needed.
    pub fn subscribe(self: &Arc<Self>) -> broadcast::Receiver<Arc<EventView>> {
        let mut slot = self.poller.lock().unwrap_or_else(|p| p.into_inner());
        let receiver = self.sender.subscribe();
        if slot.is_none() {
            let hub = Arc::clone(self);
            *slot = Some(tokio::spawn(async move { hub.poll().await }));
        }
        receiver
    }

    /// Whether nobody listens any more; then the poller is gone (decided under the lock that
    /// `subscribe` takes, so a new listener always finds a poller).
    fn idle(&self) -> bool {
        let mut slot = self.poller.lock().unwrap_or_else(|p| p.into_inner());
        if self.sender.receiver_count() == 0 {
            *slot = None;
            return true;
        }
        false
    }

    async fn poll(self: Arc<Self>) {
        // Start from the latest change; while it cannot be read (database away), wait.
        let mut after = loop {
            match self.app.last_event_id().await {
                Ok(id) => break id,
                Err(e) => tracing::warn!(error = %e, "the live feed could not start"),
            }
            tokio::time::sleep(POLL_EVERY).await;
            if self.idle() {
                return;
            }
        };
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            if self.idle() {
                return;
            }
            match self.app.ticket_events_after(after, 500).await {
                Ok(events) => {
                    for e in events {
                        after = after.max(e.id);
                        // No listener left is fine: the next loop stops.
                        let _ = self.sender.send(Arc::new(e));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the live feed could not read changes"),
            }
        }
    }
}

/// A new ticket as the queue view's script shows it (already translated and formatted).
#[derive(Serialize)]
struct NewTicket {
    number: i64,
    reference: String,
    title: String,
    status: String,
    status_key: &'static str,
    priority: i64,
    customer: String,
    owner: String,
    updated: String,
    updated_at: String,
}

/// A change to the ticket a page shows.
#[derive(Serialize)]
struct Change {
    actor: String,
    kind: String,
}

fn sse(s: impl Stream<Item = Result<Event, Infallible>> + Send + 'static) -> Response {
    let s = futures_util::StreamExt::take_until(s, tokio::time::sleep(FEED_LIFETIME));
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// Whether the session behind a feed still stands (not logged out, expired or disabled).
async fn still_signed_in(app: &App, token: &str) -> bool {
    matches!(app.session(token).await, Ok(Some(_)))
}

/// The `after` parameter of a feed's URL.
fn after_param(raw: Option<&str>) -> Option<i64> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes()).find(|(k, _)| k == "after").and_then(|(_, v)| v.parse().ok())
}

/// New tickets matching a queue view's filters, after ticket `after`. The session is checked
/// again before each batch, and the view's own list query decides what matches.
async fn queue_feed(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let s = viewer.require()?.clone();
    s.actor.require_staff().map_err(viewer.err())?;
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or("").to_owned();
    let filters = Filters::parse(raw.as_deref());
    let after = after_param(raw.as_deref()).unwrap_or(0);
    let mut input = filters.live_input().map_err(viewer.err())?;
    input.limit = Some(20);
    let app = state.app.clone();
    let tr = viewer.tr.clone();
    let receiver = state.live.subscribe();
    // The first round looks at once: a ticket may have come between the page and this feed.
    let stream = stream::unfold((receiver, true, after), move |(mut rx, first, mut after)| {
        let (app, actor, input, tr, token) = (app.clone(), s.actor.clone(), input.clone(), tr.clone(), token.clone());
        async move {
            if !first {
                // Wait for a creation, then take what else has arrived with it: one query for a burst.
                loop {
                    match rx.recv().await {
                        Ok(e) if e.kind == "created" => break,
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
                while rx.try_recv().is_ok() {}
                if !still_signed_in(&app, &token).await {
                    return None;
                }
            }
            let page = match app.list_tickets(&actor, input).await {
                Ok(p) => p.tickets,
                Err(e) => {
                    tracing::warn!(error = %e, "a live queue view could not list tickets");
                    Vec::new()
                }
            };
            let fresh: Vec<_> = page.into_iter().rev().filter(|t| t.number > after).collect();
            after = fresh.iter().map(|t| t.number).max().unwrap_or(after);
            let events: Vec<Result<Event, Infallible>> = fresh
                .into_iter()
                .map(|t| {
                    let data = NewTicket {
                        number: t.number,
                        reference: t.reference,
                        title: t.title,
                        status: tr.status(&t.status),
                        status_key: t.status.as_str(),
                        priority: t.priority,
                        customer: t.customer.unwrap_or_default(),
                        owner: t.owner.unwrap_or_default(),
                        updated: tr.when(&t.updated_at),
                        updated_at: t.updated_at.to_string(),
                    };
                    Ok(Event::default().event("ticket").json_data(&data).unwrap_or_default())
                })
                .collect();
            Some((stream::iter(events), (rx, false, after)))
        }
    });
    Ok(sse(futures_util::StreamExt::flatten(stream)))
}

/// Changes by someone else to ticket `number` after event `after` (without `after`, from now
/// on). Before each change is relayed, the session and the reader's access to the ticket are
/// checked again (it may have moved to a queue they cannot see).
async fn ticket_feed(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(raw): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let s = viewer.require()?.clone();
    // Staff only: the history of a ticket includes internal comments.
    s.actor.require_staff().map_err(viewer.err())?;
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or("").to_owned();
    let number = super::ticket_number(&viewer, &raw)?;
    let t = state.app.ticket(&s.actor, number).await.map_err(viewer.err())?;
    let after = after_param(query.as_deref());
    let receiver = state.live.subscribe();
    let me = s.actor.label.clone();
    let change = |e: &EventView| {
        Event::default().event("change").json_data(Change { actor: e.actor.clone(), kind: e.kind.clone() })
    };
    // What happened between the page and this feed, then what happens next.
    let missed: Vec<Result<Event, Infallible>> = match after {
        Some(after) => state
            .app
            .ticket_events(&s.actor, t.number)
            .await
            .map_err(viewer.err())?
            .iter()
            .filter(|e| e.id > after && e.actor != me)
            .map(|e| Ok(change(e).unwrap_or_default()))
            .collect(),
        None => Vec::new(),
    };
    let ticket = t.number;
    let app = state.app.clone();
    let actor = s.actor.clone();
    let next = stream::unfold(receiver, move |mut rx| {
        let (me, app, actor, token) = (me.clone(), app.clone(), actor.clone(), token.clone());
        async move {
            loop {
                match rx.recv().await {
                    Ok(e) if e.ticket == Some(ticket) && e.actor != me && e.id > after.unwrap_or(0) => {
                        if !still_signed_in(&app, &token).await || app.ticket(&actor, ticket).await.is_err() {
                            return None;
                        }
                        return Some((Ok(change(&e).unwrap_or_default()), rx));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(sse(futures_util::StreamExt::chain(stream::iter(missed), next)))
}
