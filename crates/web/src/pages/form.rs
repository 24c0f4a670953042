//! Submitted forms: text fields and uploaded files, from `application/x-www-form-urlencoded` or
//! `multipart/form-data` bodies alike, so one handler serves forms with and without attachments.

use app::tickets::AttachmentInput;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A submitted form.
#[derive(Debug, Default)]
pub(crate) struct Submitted {
    fields: Vec<(String, String)>,
    /// Uploaded files (empty file inputs are left out).
    pub(crate) files: Vec<AttachmentInput>,
}

impl Submitted {
    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, or the empty string.
    pub(crate) fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_owned()
    }

    /// The first value of `name` when it is given and not blank.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Every value of `name` (checkboxes, multiple selects).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// Whether a checkbox `name` was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
    }
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("the form could not be read: {message}")).into_response()
}

impl<S: Send + Sync> FromRequest<S> for Submitted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state).await.map_err(IntoResponse::into_response)?;
            let mut out = Submitted::default();
            loop {
                let field = match multipart.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return Err(bad(&e.body_text())),
                };
                let name = field.name().unwrap_or("").to_owned();
                match field.file_name().map(str::to_owned) {
                    Some(filename) => {
                        let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                        let data = field.bytes().await.map_err(|e| bad(&e.body_text()))?;
                        if !filename.is_empty() || !data.is_empty() {
                            out.files.push(AttachmentInput { filename, content_type, data: data.to_vec() });
                        }
                    }
                    None => {
                        let value = field.text().await.map_err(|e| bad(&e.body_text()))?;
                        out.fields.push((name, value));
                    }
                }
            }
            Ok(out)
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = axum::body::Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
            let fields = form_urlencoded::parse(&bytes).into_owned().collect();
            Ok(Submitted { fields, files: Vec::new() })
        } else {
            Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected a form").into_response())
        }
    }
}
