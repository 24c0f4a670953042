//! Line tallies: the counts of a one-territory scope read from the tallies agree with the lines
//! themselves (an oracle kept by the test) after a first import, changes, new lines and a
//! merger, and so do the per-region-and-service breakdowns of the preview; stale tallies are
//! never read; an import that changes nothing keeps them current.

use std::collections::{BTreeMap, BTreeSet};

use app::tallies::TallyRefresh;
use domain::scope::{Scope, ScopeTerm};

use crate::harness::*;

/// The territory of `notices::inventory` and Frascati, a second municipality in Roma's province.
fn territory() -> String {
    format!("{}058047,Frascati,municipality,058\n", crate::notices::TERRITORY)
}

/// Each municipality with its province and region.
const PLACES: [(&str, &str, &str); 5] = [
    ("015146", "015", "03"),
    ("015002", "015", "03"),
    ("013075", "013", "03"),
    ("058091", "058", "12"),
    ("058047", "058", "12"),
];
const SERVICES: [&str; 4] = ["FTTH", "FTTC", "SIM", "VOIP"];
const STATUSES: [&str; 5] = ["active", "active", "active", "suspended", "ceased"];
const CUSTOMERS: u64 = 9;

/// A line as the test knows it: customer, service, municipality, status.
type Line = (String, &'static str, &'static str, &'static str);

/// A small deterministic generator (the same lines on both backends).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n) as usize
    }

    fn line(&mut self) -> Line {
        (format!("T{}", self.next(CUSTOMERS)), SERVICES[self.next(4)], PLACES[self.next(5)].0, STATUSES[self.next(5)])
    }
}

fn file(lines: &BTreeMap<String, Line>) -> String {
    let mut s = String::from("identifier,customer_code,service,municipality_code,network_elements,status\n");
    for (id, (c, sv, m, st)) in lines {
        s.push_str(&format!("{id},{c},{sv},{m},,{st}\n"));
    }
    s
}

/// What a term of `territory` (any level, `IT` for the whole country) and `service` reaches,
/// counted from the test's own lines; `merged` maps an old municipality to its successor.
fn expected(lines: &BTreeMap<String, Line>, territory: &str, service: Option<&str>) -> (i64, i64) {
    let mut customers = BTreeSet::new();
    let mut n = 0;
    for (c, sv, m, st) in lines.values() {
        let (_, p, r) = PLACES.iter().find(|x| x.0 == *m).unwrap();
        let within = territory == "IT" || [*m, *p, *r].contains(&territory);
        if within && *st != "ceased" && service.is_none_or(|s| s == *sv) {
            n += 1;
            customers.insert(c.clone());
        }
    }
    (n, customers.len() as i64)
}

/// What the preview's breakdown should say for the same term: lines per region and service,
/// most lines first, then by region and service.
fn expected_breakdown(
    lines: &BTreeMap<String, Line>,
    territory: &str,
    service: Option<&str>,
) -> Vec<(String, String, i64)> {
    let mut groups: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (_, sv, m, st) in lines.values() {
        let (_, p, r) = PLACES.iter().find(|x| x.0 == *m).unwrap();
        let within = territory == "IT" || [*m, *p, *r].contains(&territory);
        if within && *st != "ceased" && service.is_none_or(|s| s == *sv) {
            *groups.entry((r.to_string(), sv.to_string())).or_default() += 1;
        }
    }
    let mut out: Vec<(String, String, i64)> = groups.into_iter().map(|((r, sv), n)| (r, sv, n)).collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(&b.1)));
    out
}

fn scope(territory: &str, service: Option<&str>) -> Scope {
    let term =
        ScopeTerm { territory: Some(territory.into()), network_element: None, service: service.map(String::from) };
    Scope { terms: vec![term], lines: vec![] }
}

/// Every territory with and without each service: the app's count, and its preview's lines per
/// region and service, against the test's.
async fn counts_agree(t: &Ctx, cast: &Cast, lines: &BTreeMap<String, Line>, merged: &[(&str, &str)]) {
    let codes = ["IT", "03", "015", "013", "015146", "015002", "013075", "12", "058", "058091", "058047"];
    for code in codes {
        // An old municipality's scope reaches its successor's lines.
        let counted_as = merged.iter().find(|m| m.0 == code).map_or(code, |m| m.1);
        for service in [None, Some("FTTH"), Some("FTTC"), Some("SIM"), Some("VOIP")] {
            let got = t.app.count_scope(&cast.agent, &scope(code, service)).await.unwrap();
            assert_eq!(got, expected(lines, counted_as, service), "{code} {service:?}");
            let preview = t.app.preview_scope(&cast.agent, &scope(code, service)).await.unwrap();
            assert_eq!((preview.lines, preview.customers), got);
            let groups: Vec<(String, String, i64)> =
                preview.by_region_and_service.into_iter().map(|g| (g.region, g.service, g.lines)).collect();
            assert_eq!(groups, expected_breakdown(lines, counted_as, service), "{code} {service:?}");
        }
    }
}

/// The everywhere tally read directly: `None` while stale.
async fn everywhere(t: &Ctx) -> Option<(i64, i64)> {
    let mut tx = t.app.db.read().await.unwrap();
    store::inventory::tallied(&mut tx, 0, 0).await.unwrap()
}

both!(
    async fn counts_from_the_tallies_agree_with_the_lines_and_stale_tallies_are_never_read(t: &Ctx) {
        let cast = t.seed().await;
        let ok = |r: app::inventory::ImportReport| assert!(r.rejected.is_empty() && !r.aborted, "{r:?}");
        ok(t.app.import_territory(&cast.admin, territory().as_bytes(), true).await.unwrap());
        let mut customers = String::from("code,name,vip,partner_code,contact_email,contact_name,language\n");
        for i in 0..CUSTOMERS {
            customers.push_str(&format!("T{i},Cliente {i},no,,t{i}@tally.example,,it\n"));
        }
        ok(t.app.import_customers(&cast.admin, customers.as_bytes(), true).await.unwrap());
        let mut rng = Lcg(17);
        let mut lines: BTreeMap<String, Line> = (0..400).map(|i| (format!("L{i:04}"), rng.line())).collect();
        ok(t.app.import_lines(&cast.admin, file(&lines).as_bytes(), true, &|_| {}).await.unwrap());

        // Not counted yet: the counts read the lines.
        assert!(!t.app.line_tallies_current().await.unwrap());
        assert_eq!(everywhere(t).await, None);
        counts_agree(t, &cast, &lines, &[]).await;

        let TallyRefresh::Refreshed { lines: counted, .. } = t.app.refresh_line_tallies().await.unwrap() else {
            panic!("not refreshed")
        };
        assert_eq!(counted, expected(&lines, "IT", None).0);
        assert!(t.app.line_tallies_current().await.unwrap());
        assert_eq!(everywhere(t).await, Some(expected(&lines, "IT", None)));
        assert_eq!(t.app.refresh_line_tallies().await.unwrap(), TallyRefresh::Current);
        counts_agree(t, &cast, &lines, &[]).await;

        // The same file again writes nothing: the tallies stay current.
        ok(t.app.import_lines(&cast.admin, file(&lines).as_bytes(), true, &|_| {}).await.unwrap());
        assert!(t.app.line_tallies_current().await.unwrap());

        // A third of the lines change (status, service, place or customer) and 50 are added.
        for (i, line) in lines.values_mut().enumerate() {
            if i % 3 == 0 {
                let other = rng.line();
                match rng.next(4) {
                    0 => line.0 = other.0,
                    1 => line.1 = other.1,
                    2 => line.2 = other.2,
                    _ => line.3 = if line.3 == "ceased" { "active" } else { "ceased" },
                }
            }
        }
        lines.extend((400..450).map(|i| (format!("L{i:04}"), rng.line())));
        ok(t.app.import_lines(&cast.admin, file(&lines).as_bytes(), true, &|_| {}).await.unwrap());
        assert!(!t.app.line_tallies_current().await.unwrap());
        assert_eq!(everywhere(t).await, None, "stale tallies are not read");
        counts_agree(t, &cast, &lines, &[]).await;
        assert!(matches!(t.app.refresh_line_tallies().await.unwrap(), TallyRefresh::Refreshed { .. }));
        assert_eq!(everywhere(t).await, Some(expected(&lines, "IT", None)));
        counts_agree(t, &cast, &lines, &[]).await;

        // Abbiategrasso merges into Milano: its lines move, the tallies are stale until counted.
        let merger = "old_code,successor_code\n015002,015146\n";
        ok(t.app.import_territory(&cast.admin, merger.as_bytes(), true).await.unwrap());
        for line in lines.values_mut() {
            if line.2 == "015002" {
                line.2 = "015146";
            }
        }
        assert!(!t.app.line_tallies_current().await.unwrap());
        counts_agree(t, &cast, &lines, &[("015002", "015146")]).await;
        assert!(matches!(t.app.refresh_line_tallies().await.unwrap(), TallyRefresh::Refreshed { .. }));
        counts_agree(t, &cast, &lines, &[("015002", "015146")]).await;
    }
);
