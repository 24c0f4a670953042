//! A minimal browser over the router for page tests: keeps cookies, reads hidden inputs, posts
//! forms (urlencoded and multipart). The real-browser tests are in `browser.rs`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use crate::harness::*;

/// A minimal browser over the router: keeps cookies, posts forms.
pub struct Browser {
    pub router: axum::Router,
    pub cookies: HashMap<String, String>,
    pub language: &'static str,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map(|v| v.to_str().unwrap()).unwrap_or("")
    }

    /// The value of the hidden input `name`.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} in {}", self.body)) + marker.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }
}

impl Browser {
    pub fn new(t: &Ctx) -> Browser {
        Browser { router: web::router(t.app.clone()), cookies: HashMap::new(), language: "en" }
    }

    pub async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Page {
        let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = req.header(header::ACCEPT_LANGUAGE, self.language);
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let resp = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Page { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::builder().method("GET").uri(path), Body::empty()).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(req, Body::from(body.join("&"))).await
    }

    /// Logs in through the form; returns the answer to the form's post.
    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.hidden("csrf");
        self.post("/login", &[("csrf", &csrf), ("email", email), ("password", password), ("next", "/")]).await
    }
}

pub fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub const PASSWORD: &str = "correct horse battery";

pub async fn with_passwords(t: &Ctx, cast: &Cast) {
    t.app.set_password(&cast.admin, cast.agent.user_id.unwrap(), PASSWORD).await.unwrap();
    t.app.set_password(&cast.admin, cast.partner.user_id.unwrap(), PASSWORD).await.unwrap();
    // Contacts get their password through an invitation; here it is set directly.
    let hash = app::auth::hash_password(PASSWORD).unwrap();
    let mut tx = t.app.db.write().await.unwrap();
    for email in ["anna@acme.example", "dario@other.example"] {
        store::with_conn!(&mut tx, c => sqlx::query("UPDATE contacts SET password_hash = $1 WHERE email = $2")
            .bind(&hash).bind(email).execute(&mut *c).await.map(|_| ()))
        .unwrap();
    }
    tx.commit().await.unwrap();
}

impl Browser {
    /// Posts a multipart form with `files` as (field, filename, content type, bytes).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> Page {
        let boundary = "sportello-test-boundary-7d1f";
        let mut body: Vec<u8> = Vec::new();
        for (k, v) in form {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").bytes());
        }
        for (k, name, ct, data) in files {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n")
                    .bytes(),
            );
            body.extend_from_slice(data);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").bytes());
        let req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
        self.send(req, Body::from(body)).await
    }

    /// Logs in and checks that it worked (a redirect).
    pub async fn login_ok(&mut self, email: &str) {
        let r = self.login(email, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "login of {email}: {}", r.body);
    }
}
