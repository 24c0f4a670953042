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

/// Inserts a queue named `slug` through a grouped write; `then` is a second slug inserted in the
/// same unit (a duplicate makes the unit fail after it wrote).
async fn grouped_queue(db: store::Db, slug: String, then: Option<String>) -> Result<(), store::Error> {
    db.write_grouped(move |w: &mut store::Tx| -> store::BoxFuture<'_, Result<(), store::Error>> {
        let (slug, then) = (slug.clone(), then.clone());
        Box::pin(async move {
            for s in std::iter::once(slug).chain(then) {
                store::with_conn!(&mut *w, c => sqlx::query("INSERT INTO queues (slug, name, created_at, updated_at) VALUES ($1, $1, 0, 0)")
                    .bind(&s).execute(&mut *c).await.map(|_| ()))?;
            }
            Ok(())
        })
    })
    .await
}

both!(
    async fn grouped_writes_commit_together_and_a_failing_one_changes_nothing(t: &Ctx) {
        let db = t.app.db.clone();
        grouped_queue(db.clone(), "taken".into(), None).await.unwrap();
        // Hold the writer so that the next writes queue up and share one commit on SQLite.
        let held = db.write().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..12 {
            let then = (i == 5).then(|| "taken".to_string());
            tasks.push(tokio::spawn(grouped_queue(db.clone(), format!("q{i}"), then)));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(held);
        for (i, task) in tasks.into_iter().enumerate() {
            let r = task.await.unwrap();
            if i == 5 {
                assert!(matches!(r, Err(store::Error::Conflict(_))), "{r:?}");
            } else {
                r.unwrap();
            }
        }
        let mut tx = db.read().await.unwrap();
        let slugs: Vec<String> = store::queues::all(&mut tx).await.unwrap().into_iter().map(|q| q.slug).collect();
        for i in 0..12 {
            assert_eq!(slugs.contains(&format!("q{i}")), i != 5, "q{i} in {slugs:?}");
        }
        assert_eq!(slugs.len(), 12, "{slugs:?}");
        // Without a failure, writes queued behind a busy writer share one commit on SQLite.
        let before = db.grouped_commits();
        let held = db.write().await.unwrap();
        let tasks: Vec<_> = (0..6).map(|i| tokio::spawn(grouped_queue(db.clone(), format!("r{i}"), None))).collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(held);
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        if t.backend == store::Backend::Sqlite {
            assert!(db.grouped_commits() > before, "the queued writes shared a commit");
        }
    }
);
