//! The HTTP API: status codes, problem bodies, tokens, limits, the OpenAPI document.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::harness::*;

struct Api {
    router: axum::Router,
    admin: String,
    agent: String,
}

impl Api {
    async fn new(t: &Ctx) -> (Api, Cast) {
        let cast = t.seed().await;
        let admin =
            t.app.create_token(&t.system(), "admin", Role::Admin, Some("admin@op.example")).await.unwrap().secret;
        let agent =
            t.app.create_token(&t.system(), "agent", Role::Agent, Some("agent@op.example")).await.unwrap().secret;
        (Api { router: web::router(t.app.clone()), admin, agent }, cast)
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), ct)
    }
}

both!(
    async fn post_ticket_returns_201_with_number_reference_and_status(t: &Ctx) {
        let (api, _) = Api::new(t).await;
        let body = json!({"queue": "support", "title": "Linea giù", "requestor": "someone@example.net", "body": "Non navighiamo"}).to_string();
        let (status, v, _) = api.call("POST", "/api/v1/tickets", Some(&api.agent), Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert_eq!(v["reference"], format!("support#{}", v["number"]));
        assert_eq!(
            (v["status"].as_str(), v["title"].as_str(), v["queue"].as_str()),
            (Some("new"), Some("Linea giù"), Some("support"))
        );
        let n = v["number"].as_i64().unwrap();
        let (status, got, _) = api.call("GET", &format!("/api/v1/tickets/{n}"), Some(&api.agent), None).await;
        assert_eq!((status, got["number"].as_i64()), (StatusCode::OK, Some(n)));
        let (_, events, _) = api.call("GET", &format!("/api/v1/tickets/{n}/events"), Some(&api.agent), None).await;
        assert_eq!(events[0]["kind"], "created");
        assert_eq!(events[0]["channel"], "api");
        let reply = json!({"body": "Risolto", "status": "resolved"}).to_string();
        let (status, _, _) =
            api.call("POST", &format!("/api/v1/tickets/{n}/messages"), Some(&api.agent), Some(&reply)).await;
        assert_eq!(status, StatusCode::CREATED);
        let stall = json!({"status": "stalled"}).to_string();
        let (status, p, ct) = api.call("PATCH", &format!("/api/v1/tickets/{n}"), Some(&api.agent), Some(&stall)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(ct, "application/problem+json");
        assert_eq!(p["allowed"], json!(["open", "deleted"]));
        let (status, page, _) =
            api.call("GET", "/api/v1/tickets?q=giù%20status:resolved&limit=10", Some(&api.agent), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["tickets"][0]["number"].as_i64(), Some(n));
    }
);

both!(
    async fn bad_input_gets_field_level_4xx_problems_and_writes_nothing(t: &Ctx) {
        let (api, _) = Api::new(t).await;
        let cases: Vec<(&str, &str, StatusCode, &str)> = vec![
            ("{not json", "$", StatusCode::BAD_REQUEST, "key must be a string"),
            (
                r#"{"queue":"support","title":"x","requestor":"a@b.it","body":"b","colour":"red"}"#,
                "colour",
                StatusCode::BAD_REQUEST,
                "unknown field",
            ),
            (
                r#"{"queue":"support","title":"x","requestor":"a@b.it","body":"b","priority":"high"}"#,
                "priority",
                StatusCode::BAD_REQUEST,
                "invalid type",
            ),
            (
                r#"{"queue":"support","title":"x","requestor":"a@b.it","body":"b","category":"outage"}"#,
                "category",
                StatusCode::BAD_REQUEST,
                "unknown variant",
            ),
            (r#"{"title":"x"}"#, "$", StatusCode::BAD_REQUEST, "missing field `queue`"),
            (
                r#"{"queue":"support","title":"x","requestor":"a@b.it","body":"b","attachments":[{"filename":"a","content_base64":"***"}]}"#,
                "attachments[0].content_base64",
                StatusCode::BAD_REQUEST,
                "not base64",
            ),
            (
                r#"{"queue":"support","title":"x","requestor":"a@b.it","body":"b","requestors":[1]}"#,
                "requestors[0]",
                StatusCode::BAD_REQUEST,
                "invalid type",
            ),
        ];
        for (body, field, status, message) in cases {
            let (got, p, ct) = api.call("POST", "/api/v1/tickets", Some(&api.admin), Some(body)).await;
            assert_eq!(got, status, "{body}: {p}");
            assert_eq!(ct, "application/problem+json");
            let err = &p["errors"][0];
            assert_eq!(err["field"], field, "{body}: {p}");
            assert!(err["message"].as_str().unwrap().contains(message), "{body}: {p}");
        }
        let long =
            json!({"queue": "support", "title": "x".repeat(201), "requestor": "a@b.it", "body": "b"}).to_string();
        let (status, p, _) = api.call("POST", "/api/v1/tickets", Some(&api.admin), Some(&long)).await;
        assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("title")));
        let (status, _, _) =
            api.call("POST", "/api/v1/tickets", Some(&api.admin), Some(&"x".repeat(web::MAX_BODY_BYTES + 10))).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/tickets")
            .header(header::AUTHORIZATION, format!("Bearer {}", api.admin))
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("hello"))
            .unwrap();
        assert_eq!(api.router.clone().oneshot(req).await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (_, page, _) = api.call("GET", "/api/v1/tickets", Some(&api.admin), None).await;
        assert_eq!(page["tickets"].as_array().unwrap().len(), 0, "nothing was written");
        let (status, p, _) = api.call("GET", "/api/v1/tickets?limit=lots", Some(&api.admin), None).await;
        assert_eq!((status, p["errors"][0]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("query")));
        let (status, _, _) = api.call("GET", "/api/v1/tickets?status=closed", Some(&api.admin), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
);

both!(
    async fn unknown_things_are_404_and_tokens_401_and_rights_403(t: &Ctx) {
        let (api, cast) = Api::new(t).await;
        for uri in [
            "/api/v1/tickets/424242",
            "/api/v1/tickets/abc",
            "/api/v1/tickets/-1",
            "/api/v1/queues/nosuch",
            "/api/v1/nothing",
            "/api/v1/customers/NOPE",
        ] {
            let (status, p, ct) = api.call("GET", uri, Some(&api.admin), None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {p}");
            assert_eq!(ct, "application/problem+json");
        }
        let body = json!({"queue": "nosuch", "title": "x", "requestor": "a@b.it", "body": "b"}).to_string();
        assert_eq!(api.call("POST", "/api/v1/tickets", Some(&api.admin), Some(&body)).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.call("GET", "/api/v1/tickets", None, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(api.call("GET", "/api/v1/tickets", Some("spt_forged"), None).await.0, StatusCode::UNAUTHORIZED);
        let tok = t.app.create_token(&t.system(), "short-lived", Role::Agent, Some("agent@op.example")).await.unwrap();
        assert_eq!(api.call("GET", "/api/v1/tickets", Some(&tok.secret), None).await.0, StatusCode::OK);
        let (status, _, _) =
            api.call("DELETE", &format!("/api/v1/tokens/{}", tok.token.id), Some(&api.admin), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(api.call("GET", "/api/v1/tickets", Some(&tok.secret), None).await.0, StatusCode::UNAUTHORIZED);
        let q = json!({"slug": "noc", "name": "NOC"}).to_string();
        assert_eq!(api.call("POST", "/api/v1/queues", Some(&api.agent), Some(&q)).await.0, StatusCode::FORBIDDEN);
        assert_eq!(api.call("POST", "/api/v1/queues", Some(&api.admin), Some(&q)).await.0, StatusCode::CREATED);
        assert_eq!(api.call("POST", "/api/v1/queues", Some(&api.admin), Some(&q)).await.0, StatusCode::CONFLICT);
        let treasury = t.ticket(&cast, "treasury", "fattura", "anna@acme.example", "x").await.number;
        assert_eq!(
            api.call("GET", &format!("/api/v1/tickets/{treasury}"), Some(&api.agent), None).await.0,
            StatusCode::FORBIDDEN
        );
        // A partner user's token is not possible; partners act through the portal. Their
        // isolation is covered by the access matrix.
        let (status, tokens, _) = api.call("GET", "/api/v1/tokens", Some(&api.admin), None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(tokens.as_array().unwrap().iter().all(|t| t.get("secret").is_none()));
    }
);

both!(
    async fn admin_crud_for_queues_users_partners_customers_contacts(t: &Ctx) {
        let (api, _) = Api::new(t).await;
        let tok = Some(api.admin.as_str());
        let (s, p, _) =
            api.call("POST", "/api/v1/partners", tok, Some(r#"{"name":"Energia Valle","kind":"multi_utility"}"#)).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        let pid = p["id"].as_i64().unwrap();
        let (s, _, _) = api
            .call(
                "POST",
                "/api/v1/customers",
                tok,
                Some(&json!({"code":"EV-1","name":"Casa Rossi","partner_id":pid}).to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, c, _) = api
            .call(
                "PUT",
                "/api/v1/customers/EV-1",
                tok,
                Some(&json!({"code":"ignored","name":"Casa Rossi","vip":true,"partner_id":pid}).to_string()),
            )
            .await;
        assert_eq!((s, c["vip"].as_bool(), c["code"].as_str()), (StatusCode::OK, Some(true), Some("EV-1")));
        let (s, ct, _) = api
            .call(
                "POST",
                "/api/v1/contacts",
                tok,
                Some(r#"{"email":"Mario@Rossi.example","customer":"EV-1","language":"it"}"#),
            )
            .await;
        assert_eq!((s, ct["email"].as_str()), (StatusCode::CREATED, Some("mario@rossi.example")));
        let (s, _, _) =
            api.call("POST", "/api/v1/contacts", tok, Some(r#"{"email":"x@y.example","language":"de"}"#)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, u, _) = api
            .call(
                "POST",
                "/api/v1/users",
                tok,
                Some(r#"{"email":"new@op.example","name":"New","role":"agent","password":"correct horse battery"}"#),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let uid = u["id"].as_i64().unwrap();
        let (s, u, _) = api
            .call("PUT", &format!("/api/v1/users/{uid}/rights/support"), tok, Some(r#"{"see":true,"reply":true}"#))
            .await;
        assert_eq!((s, u["rights"]["support"]["reply"].as_bool()), (StatusCode::OK, Some(true)));
        assert!(t.app.verify_user_login("NEW@op.example", "correct horse battery").await.unwrap().is_some());
        assert!(t.app.verify_user_login("new@op.example", "wrong horse battery").await.unwrap().is_none());
        let (s, _, _) =
            api.call("PUT", &format!("/api/v1/users/{uid}/password"), tok, Some(r#"{"password":"short"}"#)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, q, _) = api
            .call(
                "PUT",
                "/api/v1/queues/support/fields",
                tok,
                Some(r#"{"name":"service","label":"Servizio","kind":"choice","choices":["FTTH","FWA"]}"#),
            )
            .await;
        assert_eq!((s, q["fields"][0]["name"].as_str()), (StatusCode::OK, Some("service")));
        let (s, q, _) = api
            .call(
                "PUT",
                "/api/v1/queues/support",
                tok,
                Some(r#"{"slug":"support","name":"Supporto","reference_prefix":"help"}"#),
            )
            .await;
        assert_eq!((s, q["reference_prefix"].as_str()), (StatusCode::OK, Some("help")));
        let body = json!({"queue": "support", "title": "x", "requestor": "mario@rossi.example", "body": "b", "fields": {"service": "FWA"}}).to_string();
        let (_, tk, _) = api.call("POST", "/api/v1/tickets", tok, Some(&body)).await;
        assert_eq!(tk["reference"], format!("help#{}", tk["number"]));
        assert_eq!(tk["customer"]["code"], "EV-1");
        let history = t.app.subject_events(&t.system(), "user", uid).await.unwrap();
        assert_eq!(history.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["created", "rights"]);
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_snapshot() {
    let doc = serde_json::to_value(web::openapi()).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.contains(&&"/api/v1/tickets/{number}/merge".to_string()));
    insta::assert_json_snapshot!("openapi", doc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_openapi_healthz_and_metrics_answer() {
    let t = Ctx::sqlite().await;
    let (api, _) = Api::new(&t).await;
    let (s, doc, _) = api.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!((s, doc["openapi"].as_str()), (StatusCode::OK, Some("3.1.0")));
    let (s, h, _) = api.call("GET", "/healthz", None, None).await;
    assert_eq!((s, h["database"].as_str()), (StatusCode::OK, Some("ok")));
    api.call("GET", "/api/v1/tickets", Some(&api.agent), None).await;
    let req = Request::builder().uri("/metrics").body(Body::empty()).unwrap();
    let resp = api.router.clone().oneshot(req).await.unwrap();
    let text = String::from_utf8(axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    assert!(
        text.contains(r#"sportello_http_requests_total{method="GET",route="/api/v1/tickets",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("sportello_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(r#"sportello_jobs{state="dead"} 0"#), "{text}");
    t.finish().await;
}

both!(
    async fn email_admin_routes_and_the_original_email_of_a_message(t: &Ctx) {
        let (api, cast) = Api::new(t).await;
        let (admin, agent) = (Some(api.admin.as_str()), Some(api.agent.as_str()));
        // Queue settings: admins change them, bad values are refused with the field named.
        let (s, v, _) = api
            .call(
                "PUT",
                "/api/v1/queues/support/mail",
                admin,
                Some(r#"{"address":"support@op.example","unknown_sender":"refuse"}"#),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!((v["address"].as_str(), v["unknown_sender"].as_str()), (Some("support@op.example"), Some("refuse")));
        let (s, v, _) =
            api.call("PUT", "/api/v1/queues/support/mail", admin, Some(r#"{"unknown_sender":"maybe"}"#)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(api.call("PUT", "/api/v1/queues/support/mail", agent, Some("{}")).await.0, StatusCode::FORBIDDEN);

        // Templates: listed, previewed, refused when broken, saved, reset.
        let (s, v, _) = api.call("GET", "/api/v1/mail/templates", admin, None).await;
        assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 30));
        assert_eq!(api.call("GET", "/api/v1/mail/templates", agent, None).await.0, StatusCode::FORBIDDEN);
        let (s, v, _) = api
            .call(
                "POST",
                "/api/v1/mail/templates/preview",
                admin,
                Some(r#"{"subject":"Ciao {{ recipient.name }}","body":"Ticket {{ ticket.reference }}"}"#),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["body"].as_str().unwrap().contains("support#"), "{v}");
        let (s, v, _) = api
            .call("PUT", "/api/v1/mail/templates/it/ack", admin, Some(r#"{"subject":"Ok","body":"{% if %}"}"#))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let (s, v, _) = api
            .call("PUT", "/api/v1/mail/templates/it/ack", admin, Some(r#"{"subject":"Ricevuta","body":"Grazie"}"#))
            .await;
        assert_eq!((s, v["overridden"].as_bool()), (StatusCode::OK, Some(true)), "{v}");
        let (s, v, _) = api.call("DELETE", "/api/v1/mail/templates/it/ack", admin, None).await;
        assert_eq!((s, v["overridden"].as_bool()), (StatusCode::OK, Some(false)), "{v}");

        // IMAP mailboxes: the password is never shown; agents see nothing.
        let body =
            r#"{"name":"gmail","host":"imap.example.net","username":"support","password":"s3cret","queue":"support"}"#;
        let (s, v, _) = api.call("POST", "/api/v1/mail/imap", admin, Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert!(!v.to_string().contains("s3cret") && v["has_password"] == true && v["port"] == 993, "{v}");
        let id = v["id"].as_i64().unwrap();
        assert_eq!(api.call("GET", "/api/v1/mail/imap", agent, None).await.0, StatusCode::FORBIDDEN);
        assert_eq!(
            api.call("POST", &format!("/api/v1/mail/imap/{id}/poll"), admin, None).await.0,
            StatusCode::ACCEPTED
        );
        assert_eq!(api.call("DELETE", &format!("/api/v1/mail/imap/{id}"), admin, None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(api.call("DELETE", &format!("/api/v1/mail/imap/{id}"), admin, None).await.0, StatusCode::NOT_FOUND);

        // The quarantine: an unreadable message is listed, downloadable, then discarded once.
        let to = app::mail::Delivery::Address("support@op.example".into());
        let d = mail::deliver::deliver(&t.app, b"\x00\x01 not mail", &to).await.unwrap();
        let mail::deliver::Delivered::Malformed(q) = d else { panic!("{d:?}") };
        let (s, v, _) = api.call("GET", "/api/v1/mail/quarantine", admin, None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(v.as_array().unwrap().iter().any(|x| x["id"] == q && x["reason"] == "malformed"), "{v}");
        let (s, _, ct) = api.call("GET", &format!("/api/v1/mail/quarantine/{q}/raw"), admin, None).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "message/rfc822"));
        assert_eq!(
            api.call("GET", &format!("/api/v1/mail/quarantine/{q}/raw"), agent, None).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            api.call("POST", &format!("/api/v1/mail/quarantine/{q}/discard"), admin, None).await.0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            api.call("POST", &format!("/api/v1/mail/quarantine/{q}/discard"), admin, None).await.0,
            StatusCode::CONFLICT
        );
        let (_, v, _) = api.call("GET", "/api/v1/mail/quarantine?state=discarded", admin, None).await;
        assert!(v.as_array().unwrap().iter().any(|x| x["id"] == q));
        let (s, _, _) = api.call("GET", "/api/v1/mail/quarantine?state=everything", admin, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // The original email of a message: agents get the bytes as received; not customers.
        let raw = b"From: Anna <anna@acme.example>\r\nTo: support@op.example\r\nSubject: Linea muta\r\nMessage-ID: <raw1@acme.example>\r\nX-Mailer: Test\r\n\r\nNessun segnale.\r\n";
        let d = mail::deliver::deliver(&t.app, raw, &to).await.unwrap();
        let mail::deliver::Delivered::Taken(app::ingest::Outcome::NewTicket(n)) = d else { panic!("{d:?}") };
        let m = t.app.messages(&cast.admin, n).await.unwrap()[0].id;
        let uri = format!("/api/v1/tickets/{n}/messages/{m}/raw");
        let mut req = axum::http::Request::builder().uri(&uri);
        req = req.header(header::AUTHORIZATION, format!("Bearer {}", api.agent));
        let resp = api.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&bytes[..], &raw[..]);
        let customer = t.app.create_token(&t.system(), "c", Role::Admin, None).await.unwrap().secret;
        assert_eq!(
            api.call("GET", &format!("/api/v1/tickets/{n}/messages/{}/raw", m + 1000), Some(&customer), None).await.0,
            StatusCode::NOT_FOUND
        );
        assert!(t.app.message_raw(&cast.anna, n, m).await.is_err(), "customers never see raw email");
    }
);

both!(
    async fn sla_routes_manage_levels_and_contracts_and_tickets_carry_their_clock(t: &Ctx) {
        let (api, _) = Api::new(t).await;
        let (admin, agent) = (Some(api.admin.as_str()), Some(api.agent.as_str()));

        // Bad calendars and levels name the field and save nothing.
        let overlap = json!({"name": "Bad", "time_zone": "Europe/Rome",
            "week": {"monday": ["09:00-13:00", "12:00-18:00"]}})
        .to_string();
        let (s, v, ct) = api.call("PUT", "/api/v1/sla/calendars/bad", admin, Some(&overlap)).await;
        assert_eq!((s, ct.as_str()), (StatusCode::BAD_REQUEST, "application/problem+json"), "{v}");
        assert!(v.to_string().contains("week") && v.to_string().contains("overlap"), "{v}");
        let zone = json!({"name": "Bad", "time_zone": "Mars/Olympus", "week": {"monday": ["09:00-13:00"]}}).to_string();
        let (s, v, _) = api.call("PUT", "/api/v1/sla/calendars/bad", admin, Some(&zone)).await;
        assert!(s == StatusCode::BAD_REQUEST && v.to_string().contains("time_zone"), "{v}");
        let closed = json!({"name": "Never", "time_zone": "Europe/Rome"}).to_string();
        assert_eq!(api.call("PUT", "/api/v1/sla/calendars/bad", admin, Some(&closed)).await.0, StatusCode::BAD_REQUEST);
        let (_, v, _) = api.call("GET", "/api/v1/sla/calendars", agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 3, "{v}");
        let zero = json!({"name": "Zero", "calendar": "always",
            "intervention_minutes": {"blocking": 0, "non_blocking": 60},
            "restoration_minutes": {"blocking": 60, "non_blocking": 60}})
        .to_string();
        let (s, v, _) = api.call("PUT", "/api/v1/sla/levels/zero", admin, Some(&zero)).await;
        assert!(s == StatusCode::BAD_REQUEST && v.to_string().contains("intervention_minutes"), "{v}");

        // A custom level on the 24/7 calendar, a contract for ACME.
        let gold = json!({"name": "Gold", "calendar": "always",
            "intervention_minutes": {"blocking": 60, "non_blocking": 120},
            "restoration_minutes": {"blocking": 240, "non_blocking": 480}, "warn_percent": 50,
            "category_minutes": {"service_request": {"intervention": 480, "restoration": 2400}}})
        .to_string();
        let (s, v, _) = api.call("PUT", "/api/v1/sla/levels/gold", admin, Some(&gold)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!((v["warn_percent"].as_i64(), v["pause_statuses"][0].as_str()), (Some(50), Some("stalled")));
        assert_eq!(v["category_minutes"]["service_request"]["restoration"].as_i64(), Some(2400), "{v}");
        let fault_by_category = json!({"name": "Bad", "calendar": "always",
            "intervention_minutes": {"blocking": 60, "non_blocking": 120},
            "restoration_minutes": {"blocking": 240, "non_blocking": 480},
            "category_minutes": {"blocking_fault": {"intervention": 1, "restoration": 1}}})
        .to_string();
        let (s, v, _) = api.call("PUT", "/api/v1/sla/levels/bad", admin, Some(&fault_by_category)).await;
        assert!(s == StatusCode::BAD_REQUEST && v.to_string().contains("category_minutes.blocking_fault"), "{v}");
        assert_eq!(api.call("PUT", "/api/v1/sla/levels/gold", agent, Some(&gold)).await.0, StatusCode::FORBIDDEN);
        let k = json!({"customer": "ACME", "level": "gold", "valid_from": "2020-01-01", "included_minutes": 120, "evo": true})
            .to_string();
        let (s, contract, _) = api.call("POST", "/api/v1/sla/contracts", admin, Some(&k)).await;
        assert_eq!(s, StatusCode::CREATED, "{contract}");
        let id = contract["id"].as_i64().unwrap();
        let (_, v, _) = api.call("GET", "/api/v1/customers/ACME/contracts", agent, None).await;
        assert_eq!(v[0]["level"], "gold");
        assert_eq!(api.call("GET", "/api/v1/sla/contracts", None, None).await.0, StatusCode::UNAUTHORIZED);

        // A ticket for ACME carries its clock.
        let body = json!({"queue": "support", "title": "Fibra giù", "requestor": "anna@acme.example",
            "body": "Nessuna sincronizzazione", "category": "blocking_fault", "impact": 12})
        .to_string();
        let (s, v, _) = api.call("POST", "/api/v1/tickets", agent, Some(&body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let n = v["number"].as_i64().unwrap();
        assert_eq!((v["sla"]["level"].as_str(), v["sla"]["state"].as_str()), (Some("gold"), Some("running")));
        assert_eq!(v["sla"]["paused_for"].as_i64(), Some(0));
        assert_eq!((v["sla"]["evo"].as_bool(), v["impact"].as_i64()), (Some(true), Some(12)));
        let opened: jiff::Timestamp = v["created_at"].as_str().unwrap().parse().unwrap();
        let due: jiff::Timestamp = v["sla"]["intervention_due"].as_str().unwrap().parse().unwrap();
        assert_eq!(due.duration_since(opened), jiff::SignedDuration::from_hours(1));
        assert!(v["sla"]["restoration_due"].is_string());
        // VIP 15 + blocking 40 + fault 15 + 12 lines 10.
        assert_eq!((v["priority"].as_i64(), v["priority_manual"].as_bool()), (Some(80), Some(false)));
        let (_, soon, _) = api.call("GET", "/api/v1/sla/breaching?within_minutes=120", agent, None).await;
        assert_eq!(soon[0]["number"].as_i64(), Some(n), "{soon}");
        assert!(soon[0]["sla_due"].is_string());

        // Time: with a comment, on its own.
        let c = json!({"kind": "comment", "body": "Chiamato il NOC", "time": {"minutes": 25, "billable": false}})
            .to_string();
        assert_eq!(
            api.call("POST", &format!("/api/v1/tickets/{n}/messages"), agent, Some(&c)).await.0,
            StatusCode::CREATED
        );
        let time = json!({"minutes": 40, "note": "Intervento in sede"}).to_string();
        let (s, v, _) = api.call("POST", &format!("/api/v1/tickets/{n}/time"), agent, Some(&time)).await;
        assert_eq!((s, v["billable"].as_bool()), (StatusCode::CREATED, Some(true)), "{v}");
        let (s, v, _) = api.call("POST", &format!("/api/v1/tickets/{n}/time"), agent, Some(r#"{"minutes": 0}"#)).await;
        assert!(s == StatusCode::BAD_REQUEST && v.to_string().contains("minutes"), "{v}");
        let (_, v, _) = api.call("GET", &format!("/api/v1/tickets/{n}/time"), agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 2);
        let month = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap()).strftime("%Y-%m");
        let (s, v, _) = api.call("GET", &format!("/api/v1/reports/time?month={month}"), admin, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!((v[0]["customer"].as_str(), v[0]["billable_minutes"].as_i64()), (Some("ACME"), Some(40)));
        let (s, _, ct) = api.call("GET", &format!("/api/v1/reports/time?month={month}&format=csv"), admin, None).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
        assert_eq!(api.call("GET", "/api/v1/reports/time?month=May", admin, None).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(
            api.call("GET", &format!("/api/v1/reports/time?month={month}"), agent, None).await.0,
            StatusCode::FORBIDDEN
        );

        // Priority by hand, then computed again; the intervention recorded without a reply.
        let (_, v, _) = api.call("PATCH", &format!("/api/v1/tickets/{n}"), agent, Some(r#"{"priority": 10}"#)).await;
        assert_eq!((v["priority"].as_i64(), v["priority_manual"].as_bool()), (Some(10), Some(true)));
        let (_, v, _) = api
            .call(
                "PATCH",
                &format!("/api/v1/tickets/{n}"),
                agent,
                Some(r#"{"priority_auto": true, "intervened": true}"#),
            )
            .await;
        assert_eq!((v["priority"].as_i64(), v["sla"]["phase"].as_str()), (Some(80), Some("restoration")), "{v}");

        // Used things cannot be deleted; unused ones can.
        let (s, v, _) = api.call("DELETE", "/api/v1/sla/levels/gold", admin, None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(
            api.call("DELETE", &format!("/api/v1/sla/contracts/{id}"), admin, None).await.0,
            StatusCode::CONFLICT
        );
        let (s, _, _) = api
            .call("PATCH", &format!("/api/v1/sla/contracts/{id}"), admin, Some(r#"{"valid_until": "2019-01-01"}"#))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, v, _) = api
            .call("PATCH", &format!("/api/v1/sla/contracts/{id}"), admin, Some(r#"{"valid_until": "2030-12-31"}"#))
            .await;
        assert_eq!((s, v["valid_until"].as_str()), (StatusCode::OK, Some("2030-12-31")));
        let spare =
            json!({"name": "Spare", "time_zone": "Europe/Rome", "week": {"monday": ["09:00-10:00"]}}).to_string();
        assert_eq!(api.call("PUT", "/api/v1/sla/calendars/spare", admin, Some(&spare)).await.0, StatusCode::OK);
        assert_eq!(api.call("DELETE", "/api/v1/sla/calendars/spare", admin, None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(api.call("DELETE", "/api/v1/sla/calendars/office-it", admin, None).await.0, StatusCode::CONFLICT);
        assert_eq!(api.call("DELETE", "/api/v1/sla/calendars/nowhere", admin, None).await.0, StatusCode::NOT_FOUND);
    }
);

both!(
    async fn notice_routes_create_count_update_and_refuse_unknown_codes_with_422(t: &Ctx) {
        let (api, cast) = Api::new(t).await;
        crate::notices::inventory(t, &cast).await;
        let agent = Some(api.agent.as_str());
        let body = json!({"kind": "incident", "title": "Guasto fibra", "body": "Stiamo lavorando", "impact": "outage",
            "scope": {"terms": [{"territory": "015", "service": "FTTH"}, {"network_element": "MI-OLT-07"}], "lines": ["ACME-3"]}})
        .to_string();
        let (s, v, _) = api.call("POST", "/api/v1/notices", agent, Some(&body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let id = v["id"].as_i64().unwrap();
        let (s, v, _) = api.call("GET", &format!("/api/v1/notices/{id}"), agent, None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!((v["affected_lines"].as_i64(), v["affected_customers"].as_i64()), (Some(4), Some(2)), "{v}");
        assert_eq!(v["scope"]["terms"][1]["network_element"], "MI-OLT-07");
        let update = json!({"state": "identified", "body": "Causa individuata"}).to_string();
        let (s, v, _) = api.call("POST", &format!("/api/v1/notices/{id}/updates"), agent, Some(&update)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(
            (v["state"].as_str(), v["timeline"][0]["text"].as_str()),
            (Some("identified"), Some("Causa individuata"))
        );
        let (_, v, _) = api.call("GET", "/api/v1/customers/ACME/notices", agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
        let (_, v, _) = api.call("GET", "/api/v1/lines/OTHER-1/notices", agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 0, "{v}");
        let (s, _, _) = api.call("GET", "/api/v1/lines/GHOST/notices", agent, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, v, _) = api.call("GET", "/api/v1/customers/ACME/lines", agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 3, "{v}");

        // Unknown codes: 422 listing each; an empty scope and an inverted window: 422; nothing saved.
        let unknown = json!({"kind": "incident", "title": "x", "body": "x",
            "scope": {"terms": [{"territory": "999"}, {"network_element": "NOPE", "service": "PIGEON"}]}})
        .to_string();
        let (s, v, _) = api.call("POST", "/api/v1/notices", agent, Some(&unknown)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["scope.terms[0].territory", "scope.terms[1].network_element", "scope.terms[1].service"]);
        let empty = json!({"kind": "incident", "title": "x", "body": "x", "scope": {}}).to_string();
        assert_eq!(api.call("POST", "/api/v1/notices", agent, Some(&empty)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        let inverted = json!({"kind": "maintenance", "title": "x", "body": "x", "scope": {"lines": ["ACME-1"]},
            "window": {"start": "2026-12-01T02:00:00Z", "end": "2026-12-01T01:00:00Z"}})
        .to_string();
        assert_eq!(
            api.call("POST", "/api/v1/notices", agent, Some(&inverted)).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let (_, v, _) = api.call("GET", "/api/v1/notices", agent, None).await;
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert_eq!(api.call("POST", "/api/v1/notices", None, Some(&body)).await.0, StatusCode::UNAUTHORIZED);
    }
);
