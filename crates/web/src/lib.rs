//! Sportello's HTTP side: the JSON API under `/api/v1` with its OpenAPI document, `/healthz` and
//! `/metrics`. Handlers only translate HTTP to `app` calls and back.

pub mod api;
pub mod api_alerts;
pub mod api_mail;
pub mod api_notices;
pub mod api_sla;
pub mod api_storms;
pub mod pages;
pub mod problem;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use app::App;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use problem::{ApiError, Problem};

/// The largest request body accepted (attachments travel base64-encoded inside JSON).
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The application.
    pub app: App,
    /// The Prometheus registry.
    pub metrics: PrometheusHandle,
    /// Settings of the pages.
    pub pages: std::sync::Arc<pages::PagesConfig>,
    /// The live feed of ticket changes for the pages.
    pub live: std::sync::Arc<pages::live::Hub>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Sportello API", version = "1", description = "Tickets, queues, customers and partners of a Sportello instance. \
        Errors are RFC 9457 problems (`application/problem+json`)."),
    modifiers(&BearerAuth),
    components(schemas(Problem)),
    tags(
        (name = "tickets", description = "Tickets, their thread, history, links and merges"),
        (name = "queues", description = "Queues and their custom fields (changes: admins)"),
        (name = "users", description = "Admins, agents, partner users and their rights (admins)"),
        (name = "customers", description = "Partners, customers and contacts"),
        (name = "tokens", description = "API tokens (admins)"),
        (name = "jobs", description = "Background jobs (admins)"),
        (name = "email", description = "Queue addresses and policies, notification templates, IMAP mailboxes, the quarantine (admins)"),
        (name = "notices", description = "Lines, targeted outage and maintenance notices, their scope preview, timeline and the notices touching a customer or a line"),
        (name = "alerts", description = "Opt-in email alerts of notices: contacts' subscriptions to lines and zones, and each line's record of who was told what"),
        (name = "sla", description = "Business calendars, support levels, contracts, SLA breaches soon, time entries and the monthly time report"),
    )
)]
struct ApiDoc;

/// Every API route under `/api/v1`, with its OpenAPI description.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest(
        "/api/v1",
        api::routes()
            .merge(api_mail::routes())
            .merge(api_sla::routes())
            .merge(api_notices::routes())
            .merge(api_storms::routes())
            .merge(api_alerts::routes()),
    )
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = api_router().split_for_parts();
    api
}

/// The process-wide Prometheus registry (installed on first use).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
            let builder = PrometheusBuilder::new().set_buckets(&buckets).unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
            }
            handle
        })
        .clone()
}

async fn track(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("sportello_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("sportello_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// The longest a request may take before it is answered with a 503 problem.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn deadline(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            let mut r = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
                format!("the request took longer than {} s; retry shortly", REQUEST_TIMEOUT.as_secs()),
            )
            .into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    match s.app.health().await {
        Ok(()) => Json(serde_json::json!({ "status": "ok", "database": "ok" })).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    for state in ["queued", "running", "done", "dead"] {
        metrics::gauge!("sportello_jobs", "state" => state).set(0.0);
    }
    match s.app.job_counts().await {
        Ok(counts) => {
            for (state, n) in counts {
                metrics::gauge!("sportello_jobs", "state" => state).set(n as f64);
            }
            metrics::gauge!("sportello_database_up").set(1.0);
        }
        Err(_) => metrics::gauge!("sportello_database_up").set(0.0),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// No route: the error page for a browser outside the API, a problem document otherwise.
async fn not_found(State(s): State<AppState>, req: Request) -> Response {
    let browser =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser && !req.uri().path().starts_with("/api/") {
        return pages::not_found_page(&s, req.headers());
    }
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
    .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "an internal error occurred; it has been logged",
    )
    .into_response()
}

/// The pages' Content-Security-Policy: nothing from other origins, no inline script or style.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole HTTP application, with the pages' default settings.
pub fn router(app: App) -> Router {
    router_with(app, pages::PagesConfig::default())
}

/// The whole HTTP application.
pub fn router_with(app: App, pages_config: pages::PagesConfig) -> Router {
    let live = pages::live::Hub::new(app.clone());
    let state = AppState { app, metrics: metrics_handle(), pages: std::sync::Arc::new(pages_config), live };
    let (api, _) = api_router().split_for_parts();
    Router::new()
        .merge(api)
        .merge(pages::routes())
        .route("/api/openapi.json", get(openapi_json))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn(track))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(deadline))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(CatchPanicLayer::custom(panic_response))
        // gzip for clients that accept it (not for event streams, images or tiny bodies).
        .layer(CompressionLayer::new())
        .with_state(state)
}
