//! RFC 9457 problem responses, and extractors whose failures are problems too.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use domain::{Channel, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;

use app::{Actor, FieldProblem};

use crate::AppState;

/// The body of an `application/problem+json` response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Field-level problems of the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For refused status changes: the statuses allowed from the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<Status>>,
}

/// An error of an API handler, rendered as a problem.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    problem: Box<Problem>,
}

impl ApiError {
    /// A problem of a given status, kind and detail.
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            problem: Box::new(Problem {
                kind: format!("https://sportello.dev/problems/{kind}"),
                title: title.into(),
                status: status.as_u16(),
                detail: detail.into(),
                errors: Vec::new(),
                allowed: None,
            }),
        }
    }

    /// 400 with one field problem.
    pub fn bad_request(field: &str, message: impl Into<String>) -> ApiError {
        app::Error::invalid(field, message).into()
    }

    /// 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        app::Error::NotFound(what.into()).into()
    }
}

impl From<app::Error> for ApiError {
    fn from(e: app::Error) -> Self {
        use app::Error as E;
        let detail = e.to_string();
        match e {
            E::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail),
            E::Forbidden(_) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Not permitted", detail),
            E::Unauthenticated => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send a valid, unrevoked API token as `Authorization: Bearer <token>`",
            ),
            E::Invalid(errors) => {
                let mut a = ApiError::new(StatusCode::BAD_REQUEST, "invalid-input", "Invalid input", detail);
                a.problem.errors = errors;
                a
            }
            E::Unprocessable(errors) => {
                let mut a =
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", "Unprocessable input", detail);
                a.problem.errors = errors;
                a
            }
            E::Transition { allowed, .. } => {
                let mut a =
                    ApiError::new(StatusCode::CONFLICT, "invalid-transition", "Status change not allowed", detail);
                a.problem.allowed = Some(allowed);
                a
            }
            E::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", "Conflict", detail),
            E::RateLimited(_) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many attempts", detail)
            }
            E::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "the database is unavailable; retry shortly",
                )
            }
            E::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        r
    }
}

/// The actor of an API request, from its bearer token.
pub struct Auth(pub Actor);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let token = header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).map(str::trim);
        match token {
            Some(t) if !t.is_empty() => Ok(Auth(state.app.authenticate_token(t, Channel::Api).await?)),
            _ => Err(app::Error::Unauthenticated.into()),
        }
    }
}

/// A JSON body whose errors name the offending field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
                ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
            })
            .unwrap_or(false);
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Body too large", e.body_text())
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "unreadable-body", "Unreadable body", e.body_text())
            }
        })?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let field = if path == "." || path == "?" || path.is_empty() { "$".to_string() } else { path };
                let msg = inner.to_string();
                // Syntax errors keep their position; data errors are placed by the field name.
                let msg = match (inner.is_data(), msg.find(" at line ")) {
                    (true, Some(i)) => msg[..i].to_string(),
                    _ => msg,
                };
                Err(ApiError::bad_request(&field, msg))
            }
        }
    }
}

/// Query parameters whose errors are problems.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::bad_request("query", e.body_text()))
    }
}

/// Parses a ticket number from a path segment; anything else is an unknown ticket.
pub fn ticket_number(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::not_found(format!("ticket {text}")))
}
