//! Test contexts on real databases: a fresh SQLite file per test, and (when
//! `SPORTELLO_TEST_PG_URL` is set) a fresh PostgreSQL database per test, cloned from a migrated
//! template. In CI the variable is set, and an unreachable server fails the test.

use std::sync::atomic::{AtomicU64, Ordering};

use app::{Actor, App};
use domain::{Channel, QueueRights, Role};
use sqlx::Connection;

/// One test's database and application.
pub struct Ctx {
    pub app: App,
    pub url: String,
    pub backend: store::Backend,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

pub fn pg_admin_url() -> Option<String> {
    std::env::var("SPORTELLO_TEST_PG_URL").ok().filter(|u| !u.trim().is_empty())
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        jiff::Timestamp::now().as_microsecond() % 1_000_000
    )
}

impl Ctx {
    /// A fresh, migrated SQLite database in a temporary folder.
    pub async fn sqlite() -> Ctx {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sportello.db", dir.path().display());
        let app = app::App::new(app::open_database(&url, 16).await.unwrap(), app::Config::default());
        Ctx { app, url, backend: store::Backend::Sqlite, _dir: Some(dir), pg: None }
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured.
    pub async fn postgres() -> Option<Ctx> {
        let admin = pg_admin_url()?;
        let template = format!("sportello_tpl_{}", store::migrate::fingerprint(store::Backend::Postgres));
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("SPORTELLO_TEST_PG_URL is set but PostgreSQL is unreachable: {e}"));
        sqlx::query("SELECT pg_advisory_lock(7310)").execute(&mut conn).await.unwrap();
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&template)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        if exists.is_none() {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {template}"))).execute(&mut conn).await.unwrap();
            let db = store::Db::connect(&store::Options::new(with_database(&admin, &template))).await.unwrap();
            store::migrate::run(&db).await.unwrap();
            db.close().await;
        }
        sqlx::query("SELECT pg_advisory_unlock(7310)").execute(&mut conn).await.unwrap();
        let name = format!("sportello_t_{}", unique());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name} TEMPLATE {template}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let url = with_database(&admin, &name);
        let mut opts = store::Options::new(&url);
        opts.max_connections = 8;
        let db = store::Db::connect(&opts).await.unwrap();
        store::migrate::run(&db).await.unwrap();
        Some(Ctx {
            app: App::new(db, app::Config::default()),
            url,
            backend: store::Backend::Postgres,
            _dir: None,
            pg: Some((admin, name)),
        })
    }

    /// Closes the pools and drops a PostgreSQL test database.
    pub async fn finish(self) {
        self.app.db.close().await;
        if let Some((admin, name)) = &self.pg
            && let Ok(mut c) = sqlx::PgConnection::connect(admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut c)
                .await;
        }
    }

    pub fn system(&self) -> Actor {
        Actor::system(Channel::Api)
    }

    /// Seeds the usual cast: queues support and treasury, an admin, two agents, a partner with
    /// a customer and its user, a direct customer with two contacts, and a stranger contact.
    pub async fn seed(&self) -> Cast {
        let a = &self.app;
        let sys = self.system();
        let q = |slug: &str, prefix: &str| app::admin::QueueInput {
            slug: slug.into(),
            name: slug.into(),
            description: String::new(),
            reference_prefix: Some(prefix.into()),
            active: Some(true),
        };
        a.create_queue(&sys, q("support", "support")).await.unwrap();
        a.create_queue(&sys, q("treasury", "treasury")).await.unwrap();
        let user = |email: &str, role: Role, partner_id: Option<i64>| app::admin::UserInput {
            email: email.into(),
            name: email.split('@').next().unwrap_or("x").into(),
            role,
            partner_id,
            active: Some(true),
        };
        a.create_user(&sys, user("admin@op.example", Role::Admin, None), None).await.unwrap();
        let agent = a.create_user(&sys, user("agent@op.example", Role::Agent, None), None).await.unwrap();
        a.set_rights(&sys, agent.id, "support", QueueRights::ALL).await.unwrap();
        let viewer = a.create_user(&sys, user("viewer@op.example", Role::Agent, None), None).await.unwrap();
        a.set_rights(&sys, viewer.id, "support", QueueRights { see: true, comment: true, ..Default::default() })
            .await
            .unwrap();
        let partner = a.save_partner(&sys, None, "Rete Lario", domain::PartnerKind::Msp).await.unwrap();
        let other_partner =
            a.save_partner(&sys, None, "Altra Rete", domain::PartnerKind::SystemIntegrator).await.unwrap();
        a.create_user(&sys, user("noc@partner.example", Role::Partner, Some(partner.id)), None).await.unwrap();
        a.create_user(&sys, user("noc@other.example", Role::Partner, Some(other_partner.id)), None).await.unwrap();
        let cust = |code: &str, partner_id: Option<i64>, vip: bool| app::admin::CustomerInput {
            code: code.into(),
            name: format!("Customer {code}"),
            vip,
            partner_id,
        };
        a.create_customer(&sys, cust("ACME", None, true)).await.unwrap();
        a.create_customer(&sys, cust("LAKE", Some(partner.id), false)).await.unwrap();
        a.create_customer(&sys, cust("OTHER", None, false)).await.unwrap();
        let contact = |email: &str, customer: Option<&str>| app::admin::ContactInput {
            email: email.into(),
            name: String::new(),
            phone: String::new(),
            language: Some("it".into()),
            customer: customer.map(String::from),
        };
        let c1 = a.create_contact(&sys, contact("anna@acme.example", Some("ACME"))).await.unwrap();
        let c2 = a.create_contact(&sys, contact("bruno@acme.example", Some("ACME"))).await.unwrap();
        let c3 = a.create_contact(&sys, contact("carla@lake.example", Some("LAKE"))).await.unwrap();
        let c4 = a.create_contact(&sys, contact("dario@other.example", Some("OTHER"))).await.unwrap();
        let actor = |email: &'static str| async move { a.user_actor_by_email(email, Channel::Api).await.unwrap() };
        Cast {
            admin: actor("admin@op.example").await,
            agent: actor("agent@op.example").await,
            viewer: actor("viewer@op.example").await,
            partner: actor("noc@partner.example").await,
            other_partner: actor("noc@other.example").await,
            anna: a.contact_actor(c1.id, Channel::Web).await.unwrap(),
            bruno: a.contact_actor(c2.id, Channel::Web).await.unwrap(),
            carla: a.contact_actor(c3.id, Channel::Web).await.unwrap(),
            dario: a.contact_actor(c4.id, Channel::Web).await.unwrap(),
        }
    }

    /// Opens a ticket in `queue` for `requestor` as the admin.
    pub async fn ticket(
        &self,
        cast: &Cast,
        queue: &str,
        title: &str,
        requestor: &str,
        body: &str,
    ) -> app::views::TicketView {
        self.app
            .create_ticket(
                &cast.admin,
                app::tickets::NewTicketInput {
                    queue: queue.into(),
                    title: title.into(),
                    requestors: vec![requestor.into()],
                    body: body.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// Runs a real worker with the built-in handlers until no job is queued or running.
    pub async fn drain_jobs(&self) {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let app = self.app.clone();
        let cfg = app::jobs::WorkerConfig {
            node: "test".into(),
            poll: std::time::Duration::from_millis(20),
            ..Default::default()
        };
        let handlers = mail::send::hold(app::jobs::Handlers::builtin());
        let worker = tokio::spawn(async move { app.run_worker(handlers, cfg, rx).await });
        for _ in 0..500 {
            let counts = store::jobs::counts(&self.app.db).await.unwrap();
            if !counts.iter().any(|(s, n)| (s == "queued" || s == "running") && *n > 0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        worker.await.unwrap();
    }
}

/// The seeded people, as actors.
pub struct Cast {
    pub admin: Actor,
    pub agent: Actor,
    pub viewer: Actor,
    pub partner: Actor,
    pub other_partner: Actor,
    pub anna: Actor,
    pub bruno: Actor,
    #[allow(dead_code)]
    pub carla: Actor,
    pub dario: Actor,
}

/// Defines a test body and runs it once on SQLite and once on PostgreSQL.
macro_rules! both {
    ($(#[$m:meta])* async fn $name:ident($t:ident: &Ctx) $body:block) => {
        $(#[$m])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use crate::harness::*;

            async fn body($t: &Ctx) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let ctx = Ctx::sqlite().await;
                body(&ctx).await;
                ctx.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(ctx) = Ctx::postgres().await else {
                    eprintln!("SPORTELLO_TEST_PG_URL not set: PostgreSQL run skipped");
                    return;
                };
                body(&ctx).await;
                ctx.finish().await;
            }
        }
    };
}
pub(crate) use both;
