//! Storage: migrations on both backends.

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_end_with_the_same_tables_and_columns() {
    let lite = Ctx::sqlite().await;
    let mut lite_cols = store::migrate::columns(&lite.app.db).await.unwrap();
    lite_cols.sort();
    assert!(lite_cols.contains(&("tickets".into(), "merged_into".into())));
    assert!(lite_cols.contains(&("events".into(), "old_value".into())));
    let Some(pg) = Ctx::postgres().await else {
        eprintln!("SPORTELLO_TEST_PG_URL not set: schema comparison with PostgreSQL skipped");
        return;
    };
    let mut pg_cols = store::migrate::columns(&pg.app.db).await.unwrap();
    // SQLite's FTS5 table keys documents by its implicit rowid; PostgreSQL names the column and
    // keeps the ticket and visibility of each document beside it (see store::search).
    pg_cols.retain(|c| c.0 != "message_fts" || c.1 == "doc");
    pg_cols.sort();
    assert_eq!(lite_cols, pg_cols);
    lite.finish().await;
    pg.finish().await;
}

both!(
    async fn migrations_are_idempotent_and_refuse_edited_history(t: &Ctx) {
        assert_eq!(store::migrate::run(&t.app.db).await.unwrap(), 0);
        let mut tx = t.app.db.write().await.unwrap();
        store::with_conn!(&mut tx, c => sqlx::query("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1").execute(&mut *c).await.map(|_| ())).unwrap();
        tx.commit().await.unwrap();
        let err = store::migrate::run(&t.app.db).await.unwrap_err();
        assert!(err.to_string().contains("was changed after it was applied"), "{err}");
    }
);

both!(
    async fn database_newer_than_the_binary_is_refused(t: &Ctx) {
        let mut tx = t.app.db.write().await.unwrap();
        store::with_conn!(&mut tx, c => sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', 0)").execute(&mut *c).await.map(|_| ())).unwrap();
        tx.commit().await.unwrap();
        let err = store::migrate::run(&t.app.db).await.unwrap_err();
        assert!(err.to_string().contains("upgrade Sportello"), "{err}");
    }
);
