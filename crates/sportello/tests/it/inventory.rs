//! Inventory imports: bad files and rows refused with their line numbers and never half
//! written, duplicates across batches, strict mode, unchanged lines left alone, mergers, the
//! indexes a large first load drops, and the `sportello import` command itself.

use std::io::Write as _;
use std::process::{Command, Stdio};

use app::inventory::{ImportReport, LINE_BATCH};
use domain::scope::{Scope, ScopeTerm};

use crate::harness::*;
use crate::notices::{TERRITORY, inventory};

const BIN: &str = env!("CARGO_BIN_EXE_sportello");
const HEADER: &str = "identifier,customer_code,service,municipality_code,network_elements,status\n";

/// `n` valid lines `B-{from}`… of ACME in Milano (FTTH).
fn lines(from: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 40);
    for i in from..from + n {
        s.push_str(&format!("B-{i:06},ACME,FTTH,015146,,active\n"));
    }
    s
}

async fn line_count(t: &Ctx) -> i64 {
    let mut tx = t.app.db.read().await.unwrap();
    store::inventory::count_lines(&mut tx).await.unwrap()
}

/// Every line's identifier, customer, status and `updated_at`.
async fn stored(t: &Ctx) -> Vec<(String, String, String, i64)> {
    let mut tx = t.app.db.read().await.unwrap();
    store::with_conn!(&mut tx, c => sqlx::query_as(
        "SELECT l.identifier, cu.code, l.status, l.updated_at FROM lines l JOIN customers cu ON cu.id = l.customer_id
         ORDER BY l.identifier")
        .fetch_all(&mut *c).await)
    .unwrap()
}

fn reasons(r: &ImportReport) -> Vec<(u64, String)> {
    r.rejected.iter().map(|x| (x.line, x.reason.clone())).collect()
}

fn scope(territory: &str) -> Scope {
    Scope {
        terms: vec![ScopeTerm { territory: Some(territory.into()), network_element: None, service: None }],
        lines: vec![],
    }
}

both!(
    async fn a_duplicate_identifier_is_caught_in_a_later_batch_naming_its_first_line(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let before = line_count(t).await;
        // Line 2 is B-000000; the same identifier comes back after more than a batch, for OTHER.
        let file = format!("{HEADER}{}B-000000,OTHER,FTTC,058091,,active\n", lines(0, LINE_BATCH + 5));
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), false, &|_| {}).await.unwrap();
        let dup_line = (LINE_BATCH + 5 + 2) as u64;
        assert_eq!(reasons(&r), [(dup_line, "identifier: `B-000000` already on line 2".to_string())]);
        assert_eq!(
            (r.rows, r.imported, r.added),
            (LINE_BATCH as u64 + 6, LINE_BATCH as u64 + 5, LINE_BATCH as u64 + 5)
        );
        assert_eq!(line_count(t).await, before + LINE_BATCH as i64 + 5);
        let first = stored(t).await.into_iter().find(|l| l.0 == "B-000000").unwrap();
        assert_eq!(first.1, "ACME", "the first occurrence stands");
    }
);

both!(
    async fn an_unclosed_quote_refuses_its_own_line_and_the_following_lines_are_read(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let file = format!(
            "{HEADER}Q-1,ACME,FTTH,015146,,active\n\"Q-2,ACME,FTTH,015146,,active\nQ-3,ACME,FTTH,015146,,active\n\"Q-4\",\"ACME\",FTTH,015146,\"MI-OLT-07-P1\",active\n"
        );
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), false, &|_| {}).await.unwrap();
        assert_eq!(r.rows, 4);
        assert_eq!(r.rejected.len(), 1, "{r:?}");
        assert_eq!(r.rejected[0].line, 3);
        assert!(r.rejected[0].reason.contains("quote") && r.rejected[0].reason.contains("not closed"), "{r:?}");
        let ids: Vec<String> = stored(t).await.into_iter().map(|l| l.0).filter(|i| i.starts_with("Q-")).collect();
        assert_eq!(ids, ["Q-1", "Q-3", "Q-4"]);
        assert_eq!(t.app.line(&cast.admin, "Q-4").await.unwrap().municipality, "015146");
    }
);

both!(
    async fn malformed_files_and_rows_are_refused_clearly_and_nothing_is_half_written(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let before = stored(t).await;
        let field = |e: app::Error| match e {
            app::Error::Invalid(p) => (p[0].field.clone(), p[0].message.clone()),
            other => panic!("400 expected: {other:?}"),
        };
        // Whole files: empty, a header only, a wrong header, a header that is not UTF-8.
        let cases: [(&[u8], &str, &str); 4] = [
            (b"", "file", "empty"),
            (HEADER.as_bytes(), "file", "no data rows"),
            (b"id,customer\nX,ACME\n", "header", "expected the columns"),
            (b"identifier,\xffcustomer\nX\n", "file", "UTF-8"),
        ];
        for (text, f, words) in cases {
            let (got_field, message) = field(t.app.import_lines(&cast.admin, text, false, &|_| {}).await.unwrap_err());
            assert_eq!(got_field, f, "{message}");
            assert!(message.contains(words), "{message}");
        }
        for (text, words) in [(&b""[..], "empty"), (b"code,name\n", "header")] {
            let e = t.app.import_network(&cast.admin, text, false).await.unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
            let e = t.app.import_customers(&cast.admin, text, false).await.unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
            let e = t.app.import_territory(&cast.admin, text, false).await.unwrap_err();
            assert!(e.to_string().contains(words), "{e}");
        }
        // Rows: too few and too many fields, bytes that are not UTF-8, unknown codes, a bad status;
        // the good rows around them are imported.
        let mut file = HEADER.as_bytes().to_vec();
        file.extend_from_slice(b"M-1,ACME,FTTH\n");
        file.extend_from_slice(b"M-2,ACME,FTTH,015146,,active,10.0.0.1,extra\n");
        file.extend_from_slice(b"M-3,ACME,FTTH,015146,,act\xe9ve\n");
        file.extend_from_slice(b"M-4,NOBODY,FIBRA,999999,NO-SUCH-EL,dormant\n");
        file.extend_from_slice(b"M-5,ACME,FTTH,015146,,active\n");
        file.extend_from_slice(b",ACME,FTTH,015146,,active\n");
        let r = t.app.import_lines(&cast.admin, &file[..], false, &|_| {}).await.unwrap();
        let got = reasons(&r);
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [2, 3, 4, 5, 7]);
        assert!(got[0].1.starts_with("expected 6 fields"), "{got:?}");
        assert!(got[1].1.starts_with("expected 6 fields"), "{got:?}");
        assert!(got[2].1.contains("UTF-8"), "{got:?}");
        for part in ["unknown customer `NOBODY`", "unknown service `FIBRA`", "unknown municipality `999999`"] {
            assert!(got[3].1.contains(part), "{got:?}");
        }
        assert!(got[3].1.contains("unknown element `NO-SUCH-EL`") && got[3].1.contains("`dormant`"), "{got:?}");
        assert!(got[4].1.starts_with("identifier:"), "{got:?}");
        assert_eq!((r.rows, r.imported), (6, 1));
        let after = stored(t).await;
        assert_eq!(after.len(), before.len() + 1);
        assert!(after.iter().any(|l| l.0 == "M-5"));
    }
);

both!(
    async fn strict_mode_writes_nothing_when_a_bad_row_follows_more_than_a_batch_of_good_rows(t: &Ctx) {
        let cast = t.seed().await;
        // A first load into an empty table: large enough to drop and rebuild the indexes.
        t.app.import_territory(&cast.admin, TERRITORY.as_bytes(), true).await.unwrap();
        let file = format!("{HEADER}{}BAD-1,ACME,FTTH,015146,,gone\n", lines(0, LINE_BATCH * 2 + 10));
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), true, &|_| {}).await.unwrap();
        assert!(r.aborted);
        assert_eq!((r.imported, r.added, r.rows), (0, 0, LINE_BATCH as u64 * 2 + 11));
        assert_eq!(reasons(&r).iter().map(|x| x.0).collect::<Vec<_>>(), [LINE_BATCH as u64 * 2 + 12]);
        assert_eq!(line_count(t).await, 0, "nothing written");
        let mut tx = t.app.db.read().await.unwrap();
        assert!(store::inventory::missing_line_indexes(&mut tx).await.unwrap().is_empty(), "indexes back");
        drop(tx);
        // Without --strict the good rows go in, the bad one is reported.
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), false, &|_| {}).await.unwrap();
        assert!(!r.aborted);
        assert_eq!((r.imported, r.rejected.len()), (LINE_BATCH as u64 * 2 + 10, 1));
        assert_eq!(line_count(t).await, LINE_BATCH as i64 * 2 + 10);
    }
);

both!(
    async fn a_large_first_load_rebuilds_the_indexes_it_dropped_and_a_migration_repairs_them(t: &Ctx) {
        let cast = t.seed().await;
        t.app.import_territory(&cast.admin, TERRITORY.as_bytes(), true).await.unwrap();
        t.app.import_network(&cast.admin, "code,name,kind,parent_code\nP1,PoP,pop,\n".as_bytes(), true).await.unwrap();
        let mut file = String::from(HEADER);
        for i in 0..LINE_BATCH + 100 {
            let (customer, element) = if i % 2 == 0 { ("ACME", "P1") } else { ("OTHER", "") };
            file.push_str(&format!("F-{i:06},{customer},FTTH,015146,{element},active\n"));
        }
        let progress = std::sync::atomic::AtomicU64::new(0);
        let heard = |rows: u64| progress.store(rows, std::sync::atomic::Ordering::SeqCst);
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), false, &heard).await.unwrap();
        assert_eq!((r.added, r.rejected.len()), (LINE_BATCH as u64 + 100, 0));
        assert_eq!(progress.load(std::sync::atomic::Ordering::SeqCst), LINE_BATCH as u64 + 100);
        let mut tx = t.app.db.read().await.unwrap();
        assert!(store::inventory::missing_line_indexes(&mut tx).await.unwrap().is_empty());
        drop(tx);
        let element = Scope {
            terms: vec![ScopeTerm { territory: None, network_element: Some("P1".into()), service: None }],
            lines: vec![],
        };
        let half = (LINE_BATCH as i64 + 100) / 2;
        assert_eq!(t.app.count_scope(&cast.agent, &element).await.unwrap(), (half, 1));
        assert_eq!(t.app.count_scope(&cast.agent, &scope("03")).await.unwrap(), (half * 2, 2));
        // An import killed after committing part of a first load leaves an index missing: the
        // next start (a migration pass) builds it again.
        let mut tx = t.app.db.write().await.unwrap();
        store::with_conn!(&mut tx, c => sqlx::query("DROP INDEX lines_place").execute(&mut *c).await.map(|_| ()))
            .unwrap();
        tx.commit().await.unwrap();
        store::migrate::run(&t.app.db).await.unwrap();
        let mut tx = t.app.db.read().await.unwrap();
        assert!(store::inventory::missing_line_indexes(&mut tx).await.unwrap().is_empty());
    }
);

both!(
    async fn a_reimport_leaves_unchanged_lines_alone_and_rewrites_the_changed_ones(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        let file = format!(
            "{HEADER}R-1,ACME,FTTH,015146,MI-OLT-07-P1,active\nR-2,ACME,FTTH,015146,,active\nR-3,OTHER,FTTC,058091,,suspended\n"
        );
        let r = t.app.import_lines(&cast.admin, file.as_bytes(), false, &|_| {}).await.unwrap();
        assert_eq!((r.added, r.updated, r.unchanged), (3, 0, 0));
        let first = stored(t).await;
        // Later, the same file: nothing written, nothing counted as imported.
        let clock = app::Clock::manual(t.app.now() + jiff::SignedDuration::from_hours(1));
        let later = t.app.clone().with_clock(clock);
        let r = later.import_lines(&cast.admin, file.as_bytes(), false, &|_| {}).await.unwrap();
        assert_eq!((r.imported, r.added, r.updated, r.unchanged, r.rows), (0, 0, 0, 3, 3));
        assert_eq!(stored(t).await, first, "no updated_at moved");
        // A status change, an element change and a new line; R-3 stays as it is.
        let changed = format!(
            "{HEADER}R-1,ACME,FTTH,015146,,active\nR-2,ACME,FTTH,015146,,ceased\nR-3,OTHER,FTTC,058091,,suspended\nR-4,OTHER,FTTH,058091,RM-POP-1,active\n"
        );
        let r = later.import_lines(&cast.admin, changed.as_bytes(), false, &|_| {}).await.unwrap();
        assert_eq!((r.imported, r.added, r.updated, r.unchanged), (3, 1, 2, 1));
        let after = stored(t).await;
        let at = |rows: &[(String, String, String, i64)], id: &str| rows.iter().find(|l| l.0 == id).unwrap().clone();
        assert!(at(&after, "R-1").3 > at(&first, "R-1").3, "elements changed: rewritten");
        assert_eq!(at(&after, "R-2").2, "ceased");
        assert!(at(&after, "R-2").3 > at(&first, "R-2").3);
        assert_eq!(at(&after, "R-3"), at(&first, "R-3"), "unchanged: untouched");
        assert_eq!(after.len(), first.len() + 1);
        // R-1 no longer depends on OLT 7.
        let olt = Scope {
            terms: vec![ScopeTerm { territory: None, network_element: Some("MI-OLT-07".into()), service: None }],
            lines: vec![],
        };
        assert_eq!(t.app.count_scope(&cast.agent, &olt).await.unwrap(), (1, 1), "ACME-1 only");
    }
);

both!(
    async fn a_customer_refused_for_its_contact_is_not_written_at_all(t: &Ctx) {
        let cast = t.seed().await;
        let file = "code,name,vip,partner_code,contact_email,contact_name,language
NEWCO,New Company,no,,anna@acme.example,Anna,it
GOOD,Good Company,yes,rete lario,good@good.example,Gina,en
ACME,Acme renamed,yes,,bruno@acme.example,,it
GOOD,Good again,no,,,,it
";
        let r = t.app.import_customers(&cast.admin, file.as_bytes(), false).await.unwrap();
        assert_eq!(
            reasons(&r),
            [
                (2, "contact_email: `anna@acme.example` belongs to another customer".to_string()),
                (5, "code `GOOD` already on line 3".to_string())
            ]
        );
        assert_eq!((r.imported, r.added, r.updated), (2, 1, 1));
        assert!(matches!(t.app.customer(&cast.admin, "NEWCO").await, Err(app::Error::NotFound(_))), "not written");
        let acme = t.app.contacts(&cast.admin, Some("ACME")).await.unwrap();
        assert!(acme.iter().any(|c| c.email == "anna@acme.example"), "anna still ACME's");
        let good = t.app.contacts(&cast.admin, Some("GOOD")).await.unwrap();
        assert_eq!(
            good.iter().map(|c| (c.email.as_str(), c.language.as_str())).collect::<Vec<_>>(),
            [("good@good.example", "en")]
        );
        // Strict: the same file writes nothing.
        let strict = file.replace("GOOD", "BETTER").replace("good@", "better@");
        let r = t.app.import_customers(&cast.admin, strict.as_bytes(), true).await.unwrap();
        assert!(r.aborted && r.imported == 0);
        assert!(t.app.customer(&cast.admin, "BETTER").await.is_err());
    }
);

both!(
    async fn children_of_a_refused_territory_or_element_are_refused_with_their_own_line_numbers(t: &Ctx) {
        let cast = t.seed().await;
        let file = "code,name,level,parent_code
IT,Italia,country,
15,Nowhere,region,XX
077,Orphan province,province,15
077001,Orphan town,municipality,077
03,Lombardia,region,IT
078,Second orphan,province,15
015,Milano,province,03
015146,Milano,municipality,015
015146,Milano again,municipality,015
016,Bad level,province,015
";
        let r = t.app.import_territory(&cast.admin, file.as_bytes(), false).await.unwrap();
        assert_eq!(
            reasons(&r),
            [
                (3, "`15`: unknown parent_code `XX`".to_string()),
                (4, "`077`: its parent `15` was refused (line 3)".to_string()),
                (5, "`077001`: its parent `077` was refused (line 4)".to_string()),
                (7, "`078`: its parent `15` was refused (line 3)".to_string()),
                (10, "code `015146` already on line 9".to_string()),
                (11, "`016`: a province cannot sit in a province".to_string()),
            ]
        );
        assert_eq!(r.imported, 4);
        let found = t.app.search_territories(&cast.agent, "orphan").await.unwrap();
        assert!(found.is_empty(), "nothing of the refused branch written: {found:?}");
        let r = t.app.import_territory(&cast.admin, file.as_bytes(), true).await.unwrap();
        assert!(r.aborted && r.imported == 0 && r.rejected.len() == 6);

        let network = "code,name,kind,parent_code
A,Top,pop,
B,Broken,,A
C,Under broken,olt,B
D,Under C,pon_port,C
E,Fine,olt,A
A,Top again,pop,
";
        let r = t.app.import_network(&cast.admin, network.as_bytes(), false).await.unwrap();
        assert_eq!(reasons(&r).iter().map(|x| x.0).collect::<Vec<_>>(), [3, 4, 5, 7]);
        assert_eq!(r.rejected[1].reason, "parent_code: `B` was refused (line 3)");
        assert_eq!(r.rejected[2].reason, "parent_code: `C` was refused (line 4)");
        assert_eq!(r.rejected[3].reason, "code `A` already on line 2");
        // Moving A below its own child E would make a loop.
        let r = t
            .app
            .import_network(&cast.admin, "code,name,kind,parent_code\nA,Top,pop,E\n".as_bytes(), false)
            .await
            .unwrap();
        assert_eq!(reasons(&r), [(2, "parent_code: `E` is below `A`: that would make a loop".to_string())]);
    }
);

both!(
    async fn merged_municipalities_bring_their_lines_to_the_successor_whose_scope_covers_them(t: &Ctx) {
        let cast = t.seed().await;
        inventory(t, &cast).await;
        // Milano (015146) has ACME-1 and ACME-2; Abbiategrasso (015002) has LAKE-1.
        assert_eq!(t.app.count_scope(&cast.agent, &scope("015146")).await.unwrap(), (2, 1));
        let r = t
            .app
            .import_territory(&cast.admin, "old_code,successor_code\n015002,015146\n013075,013075\n".as_bytes(), false)
            .await
            .unwrap();
        assert_eq!(r.imported, 1);
        assert_eq!(reasons(&r).iter().map(|x| x.0).collect::<Vec<_>>(), [3]);
        assert_eq!(t.app.line(&cast.admin, "LAKE-1").await.unwrap().municipality, "015146");
        assert_eq!(t.app.count_scope(&cast.agent, &scope("015146")).await.unwrap(), (3, 2));
        assert_eq!(t.app.count_scope(&cast.agent, &scope("015002")).await.unwrap(), (3, 2), "the old code too");
        // A line naming the old code lands on the successor.
        let file = format!("{HEADER}LAKE-2,LAKE,FTTH,015002,,active\n");
        t.app.import_lines(&cast.admin, file.as_bytes(), true, &|_| {}).await.unwrap();
        assert_eq!(t.app.line(&cast.admin, "LAKE-2").await.unwrap().municipality, "015146");
        assert_eq!(t.app.count_scope(&cast.agent, &scope("015146")).await.unwrap(), (4, 2));
        // The partner sees a notice on Milano for its customer's moved lines.
        assert_eq!(t.app.count_scope(&cast.agent, &scope("015")).await.unwrap(), (4, 2));
    }
);

both!(
    async fn the_real_istat_list_loads_whole(t: &Ctx) {
        let cast = t.seed().await;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/territory/it-comuni-istat.csv");
        let file = std::fs::File::open(path).expect("the shared ISTAT test data");
        let r = t.app.import_territory(&cast.admin, file, true).await.unwrap();
        assert_eq!((r.rows, r.rejected.len(), r.imported), (7_904, 0, 1 + 20 + 107 + 7_904));
        let again = t.app.import_territory(&cast.admin, std::fs::File::open(path).unwrap(), true).await.unwrap();
        assert_eq!((again.added, again.updated), (0, 1 + 20 + 107 + 7_904 - 1), "Italy itself is not in the file");
    }
);

fn run(url: &str, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(["--database-url", url, "import"])
        .args(args)
        .env("SPORTELLO_LOG", "warn")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

both!(
    async fn the_import_command_prints_its_report_and_tells_how_it_went_by_its_exit_status(t: &Ctx) {
        let cast = t.seed().await;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        };
        let territory = write("territory.csv", TERRITORY);
        let (code, out, err) = run(&t.url, &["territory", &territory], None);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("10 rows read") && out.contains("imported 10 (10 added, 0 updated), rejected 0"), "{out}");

        // Some rows refused: exit 3, each refused row named; 60 refused: 50 printed.
        let mut text = format!("{HEADER}{}", lines(0, 3));
        for i in 0..60 {
            text.push_str(&format!("X-{i},NOBODY,FTTH,015146,,active\n"));
        }
        let partial = write("partial.csv", &text);
        let (code, out, err) = run(&t.url, &["lines", &partial], None);
        assert_eq!(code, 3, "{out}{err}");
        assert!(out.contains("63 rows read"), "{out}");
        assert!(out.contains("imported 3 (3 added, 0 updated), 0 unchanged, rejected 60"), "{out}");
        assert!(out.contains("  line 5: customer_code: unknown customer `NOBODY`"), "{out}");
        assert!(out.contains("  … and 10 more (--json lists them all)"), "{out}");
        assert_eq!(out.lines().filter(|l| l.starts_with("  line ")).count(), 50);

        // The same with --strict: nothing written, 65.
        let fresh = write("strict.csv", &text.replace("B-", "S-"));
        let (code, out, _) = run(&t.url, &["lines", &fresh, "--strict"], None);
        assert_eq!(code, 65, "{out}");
        assert!(out.contains("nothing written: --strict and 60 bad rows"), "{out}");
        assert!(t.app.line(&cast.admin, "S-000000").await.is_err());

        // Every row refused: 65. A good file from standard input: 0, then unchanged.
        let (code, _, _) = run(&t.url, &["lines", "-"], Some(&format!("{HEADER}Y-1,NOBODY,FTTH,015146,,active\n")));
        assert_eq!(code, 65);
        let good = format!("{HEADER}{}", lines(100, 5));
        let (code, out, _) = run(&t.url, &["lines", "-"], Some(&good));
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("-: 5 rows read"), "{out}");
        let (code, out, _) = run(&t.url, &["lines", "-", "--json"], Some(&good));
        assert_eq!(code, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!((v["rows"].as_u64(), v["unchanged"].as_u64(), v["imported"].as_u64()), (Some(5), Some(5), Some(0)));
        assert!(v["rows_per_second"].as_f64().is_some());

        // A bad file: 65 with the reason on standard error; a missing file: 66.
        let (code, out, err) = run(&t.url, &["network", &write("bad.csv", "code;name\n")], None);
        assert_eq!(code, 65, "{out}");
        assert!(err.contains("header: expected the columns `code,name,kind,parent_code`, found `code;name`"), "{err}");
        let (code, _, err) = run(&t.url, &["customers", "/no/such/file.csv"], None);
        assert_eq!(code, 66);
        assert!(err.contains("cannot open /no/such/file.csv"), "{err}");
    }
);
