//! Embedded migrations, one history per backend, applied in order at start.

use crate::{Db, Error, Result, Tx, sha256_hex};

/// One schema change.
pub struct Migration {
    /// Increasing version number.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// The SQL, for SQLite.
    pub sqlite: &'static str,
    /// The SQL, for PostgreSQL.
    pub postgres: &'static str,
}

/// Every migration, oldest first. Both backends have the same versions.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "search_by_ticket",
        sqlite: include_str!("../migrations/sqlite/0002_search_by_ticket.sql"),
        postgres: include_str!("../migrations/postgres/0002_search_by_ticket.sql"),
    },
    Migration {
        version: 3,
        name: "sessions",
        sqlite: include_str!("../migrations/sqlite/0003_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0003_sessions.sql"),
    },
    Migration {
        version: 4,
        name: "invitations",
        sqlite: include_str!("../migrations/sqlite/0004_invitations.sql"),
        postgres: include_str!("../migrations/postgres/0004_invitations.sql"),
    },
    Migration {
        version: 5,
        name: "queue_orders",
        sqlite: include_str!("../migrations/sqlite/0005_queue_orders.sql"),
        postgres: include_str!("../migrations/postgres/0005_queue_orders.sql"),
    },
    Migration {
        version: 6,
        name: "mail",
        sqlite: include_str!("../migrations/sqlite/0006_mail.sql"),
        postgres: include_str!("../migrations/postgres/0006_mail.sql"),
    },
    Migration {
        version: 7,
        name: "jobs_by_kind",
        sqlite: include_str!("../migrations/sqlite/0007_jobs_by_kind.sql"),
        postgres: include_str!("../migrations/postgres/0007_jobs_by_kind.sql"),
    },
    Migration {
        version: 8,
        name: "imap_leases",
        sqlite: include_str!("../migrations/sqlite/0008_imap_leases.sql"),
        postgres: include_str!("../migrations/postgres/0008_imap_leases.sql"),
    },
    Migration {
        version: 9,
        name: "sla",
        sqlite: include_str!("../migrations/sqlite/0009_sla.sql"),
        postgres: include_str!("../migrations/postgres/0009_sla.sql"),
    },
    Migration {
        version: 10,
        name: "sla_clocks",
        sqlite: include_str!("../migrations/sqlite/0010_sla_clocks.sql"),
        postgres: include_str!("../migrations/postgres/0010_sla_clocks.sql"),
    },
    Migration {
        version: 11,
        name: "sla_categories",
        sqlite: include_str!("../migrations/sqlite/0011_sla_categories.sql"),
        postgres: include_str!("../migrations/postgres/0011_sla_categories.sql"),
    },
    Migration {
        version: 12,
        name: "notices",
        sqlite: include_str!("../migrations/sqlite/0012_notices.sql"),
        postgres: include_str!("../migrations/postgres/0012_notices.sql"),
    },
    Migration {
        version: 13,
        name: "ticket_lines",
        sqlite: include_str!("../migrations/sqlite/0013_ticket_lines.sql"),
        postgres: include_str!("../migrations/postgres/0013_ticket_lines.sql"),
    },
    Migration {
        version: 14,
        name: "alerts",
        sqlite: include_str!("../migrations/sqlite/0014_alerts.sql"),
        postgres: include_str!("../migrations/postgres/0014_alerts.sql"),
    },
    Migration {
        version: 15,
        name: "status_storm",
        sqlite: include_str!("../migrations/sqlite/0015_status_storm.sql"),
        postgres: include_str!("../migrations/postgres/0015_status_storm.sql"),
    },
    Migration {
        version: 16,
        name: "line_elements_by_line",
        sqlite: include_str!("../migrations/sqlite/0016_line_elements_by_line.sql"),
        postgres: include_str!("../migrations/postgres/0016_line_elements_by_line.sql"),
    },
    Migration {
        version: 17,
        name: "line_tallies",
        sqlite: include_str!("../migrations/sqlite/0017_line_tallies.sql"),
        postgres: include_str!("../migrations/postgres/0017_line_tallies.sql"),
    },
];

/// A fingerprint of the whole migration history of one backend (for test templates).
pub fn fingerprint(db: crate::Backend) -> String {
    let all: String = MIGRATIONS
        .iter()
        .map(|m| match db {
            crate::Backend::Sqlite => m.sqlite,
            crate::Backend::Postgres => m.postgres,
        })
        .collect();
    sha256_hex(all.as_bytes())[..12].to_owned()
}

const PG_LOCK: i64 = 0x5350_4f52_5445_4c4c; // "SPORTELL"

/// Applies the migrations not yet applied; returns how many ran. Refuses a database whose
/// applied migrations were changed, or which is newer than this binary.
pub async fn run(db: &Db) -> Result<usize> {
    let mut tx = db.write().await?;
    let create = "CREATE TABLE IF NOT EXISTS schema_migrations (
        version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";
    if let Tx::Postgres(c) = &mut tx {
        // Several nodes may start together: one migrates, the others wait and find nothing to do.
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PG_LOCK).execute(&mut **c).await?;
    }
    with_conn!(&mut tx, c => sqlx::query(create).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    let applied: Vec<(i64, String)> = with_conn!(&mut tx, c =>
        sqlx::query_as("SELECT version, checksum FROM schema_migrations ORDER BY version").fetch_all(&mut *c).await)?;
    let backend = tx.backend();
    let mut ran = 0;
    for m in MIGRATIONS {
        let sql = match backend {
            crate::Backend::Sqlite => m.sqlite,
            crate::Backend::Postgres => m.postgres,
        };
        let sum = sha256_hex(sql.as_bytes());
        if let Some((_, old)) = applied.iter().find(|(v, _)| *v == m.version) {
            if *old != sum {
                return Err(Error::Config(format!(
                    "migration {} ({}) was changed after it was applied to this database",
                    m.version, m.name
                )));
            }
            continue;
        }
        let now = jiff::Timestamp::now().as_microsecond();
        with_conn!(&mut tx, c => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *c).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(m.version).bind(m.name).bind(&sum).bind(now).execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        ran += 1;
    }
    if let Some(newest) = applied.last()
        && !MIGRATIONS.iter().any(|m| m.version == newest.0)
    {
        return Err(Error::Config(format!(
            "the database has migration {} which this version of Sportello does not know: upgrade Sportello",
            newest.0
        )));
    }
    // A large line import that was interrupted may have left its dropped indexes unbuilt.
    let built = crate::inventory::ensure_line_indexes(&mut tx).await?;
    if built > 0 {
        tracing::warn!(indexes = built, "built again the line indexes an interrupted import had dropped");
    }
    tx.commit().await?;
    Ok(ran)
}

/// The tables and their columns, sorted, as the database reports them (for schema comparisons).
pub async fn columns(db: &Db) -> Result<Vec<(String, String)>> {
    let mut tx = db.read().await?;
    let rows: Vec<(String, String)> = match &mut tx {
        Tx::Sqlite(c) => {
            sqlx::query_as(
                "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'message_fts_%'
             ORDER BY m.name, p.name",
            )
            .fetch_all(&mut **c)
            .await?
        }
        Tx::Postgres(c) => {
            sqlx::query_as(
                "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() ORDER BY table_name, column_name",
            )
            .fetch_all(&mut **c)
            .await?
        }
    };
    Ok(rows)
}
