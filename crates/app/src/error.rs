//! The errors of the use cases, typed so that every channel can present them.

use domain::Status;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldProblem {
    /// The field, as named in the request (`title`, `fields.circuit`, `attachments[0].content`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing of that kind with that key (or the actor may not know it exists).
    #[error("{0} not found")]
    NotFound(String),
    /// The actor is known but may not do this.
    #[error("not permitted: {0}")]
    Forbidden(String),
    /// No valid credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Some inputs are wrong.
    #[error("invalid input: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldProblem>),
    /// Well-formed input that names things that do not exist or cannot hold together (a scope
    /// with unknown codes, an empty scope, an inverted window).
    #[error("unprocessable: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Unprocessable(Vec<FieldProblem>),
    /// A status change the lifecycle refuses.
    #[error("{message}")]
    Transition {
        /// What was refused.
        message: String,
        /// The statuses allowed from the current one.
        allowed: Vec<Status>,
    },
    /// The change conflicts with what is stored (a duplicate slug, email or code).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Too many attempts (failed logins); retry after this many seconds.
    #[error("too many attempts: retry in {0} s")]
    RateLimited(u64),
    /// The database cannot be reached now; retry later.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<store::Error> for Error {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::Unavailable(m) => Error::Unavailable(m),
            store::Error::Conflict(m) => Error::Conflict(m),
            store::Error::Config(m) => Error::Unavailable(m),
            store::Error::Corrupt(m) | store::Error::Other(m) => Error::Internal(m),
        }
    }
}

impl From<domain::TransitionError> for Error {
    fn from(e: domain::TransitionError) -> Self {
        Error::Transition { message: e.to_string(), allowed: e.allowed }
    }
}

impl Error {
    /// An [`Error::Invalid`] about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldProblem { field: field.into(), message: message.into() }])
    }
}

/// Collects field problems while checking an input, then fails once with all of them.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldProblem { field: field.into(), message: message.into() });
    }

    /// Keeps the value of a check, or records its problem under `field`.
    pub fn check<T>(&mut self, field: &str, r: std::result::Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }

    /// `Ok` when nothing was recorded, else [`Error::Invalid`] with every problem.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::Invalid(self.0)) }
    }
}
