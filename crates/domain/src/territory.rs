//! Territories (country → region → province → municipality) and the rows that load them.
//!
//! Two row formats are read, over fields already split by the CSV reader:
//!
//! - ISTAT: `istat_code,name,region_code,region_name,province_code,province_name,province_abbr,population_2011`,
//!   one municipality per row carrying its region and province; the country `IT` is implied.
//! - Generic: `code,name,level,parent_code`, one territory per row.
//!
//! Mergers of municipalities are read from `old_code,successor_code` rows and followed with
//! [`resolve_successor`].

use std::collections::{HashMap, HashSet};

use crate::named_enum;

named_enum!(
    /// How high a territory sits in the hierarchy.
    TerritoryLevel {
        /// A country (`IT`).
        Country => "country",
        /// A region (ISTAT: 2 digits, `03`).
        Region => "region",
        /// A province or metropolitan city (ISTAT: 3 digits, `015`).
        Province => "province",
        /// A municipality (ISTAT: 6 digits, `015146`, starting with its province's code).
        Municipality => "municipality",
    }
);

impl TerritoryLevel {
    /// Depth in the hierarchy: 0 for a country, 3 for a municipality.
    pub fn rank(self) -> u8 {
        match self {
            TerritoryLevel::Country => 0,
            TerritoryLevel::Region => 1,
            TerritoryLevel::Province => 2,
            TerritoryLevel::Municipality => 3,
        }
    }
}

/// Whether a territory of level `parent` may be the parent of one of level `child`: exactly one level up.
pub fn may_parent(child: TerritoryLevel, parent: TerritoryLevel) -> bool {
    child.rank() == parent.rank() + 1
}

/// The code of the country implied by ISTAT rows.
pub const ITALY: &str = "IT";

/// The header of ISTAT rows.
pub const ISTAT_HEADER: [&str; 8] = [
    "istat_code",
    "name",
    "region_code",
    "region_name",
    "province_code",
    "province_name",
    "province_abbr",
    "population_2011",
];

/// The header of generic rows.
pub const GENERIC_HEADER: [&str; 4] = ["code", "name", "level", "parent_code"];

/// The header of merger rows.
pub const MERGER_HEADER: [&str; 2] = ["old_code", "successor_code"];

/// One territory as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerritoryRecord {
    /// Unique code (ISTAT code in Italy, `IT` for the country).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Level in the hierarchy.
    pub level: TerritoryLevel,
    /// The parent's code; `None` only for a country.
    pub parent_code: Option<String>,
    /// Inhabitants, when the row gives them (ISTAT municipalities).
    pub population: Option<u64>,
}

/// The layout of a territory file, told by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerritoryFormat {
    /// [`ISTAT_HEADER`]: a municipality per row with its region and province.
    Istat,
    /// [`GENERIC_HEADER`]: a territory of any level per row.
    Generic,
}

/// Why a territory or merger row is refused; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    /// The header is not one of the known ones.
    #[error(
        "header: `{found}` is not a territory header; expected `{}` or `{}`",
        ISTAT_HEADER.join(","),
        GENERIC_HEADER.join(",")
    )]
    Header {
        /// The header given, comma-joined.
        found: String,
    },
    /// The header of a mergers file is not [`MERGER_HEADER`].
    #[error("header: `{found}` is not a mergers header; expected `{}`", MERGER_HEADER.join(","))]
    MergerHeader {
        /// The header given, comma-joined.
        found: String,
    },
    /// A row with too many or too few fields.
    #[error("row: expected {expected} fields ({}), found {found}", header.join(","))]
    FieldCount {
        /// How many the format has.
        expected: usize,
        /// How many the row has.
        found: usize,
        /// The format's header.
        header: &'static [&'static str],
    },
    /// A required field is blank.
    #[error("{0}: must not be empty")]
    Empty(&'static str),
    /// An unknown level name.
    #[error("level: `{0}` is not one of: {known}", known = TerritoryLevel::names())]
    Level(String),
    /// An ISTAT code that is not made of the right number of digits.
    #[error("{field}: `{value}` is not an ISTAT code of {digits} digits (leading zeros included)")]
    IstatCode {
        /// The field.
        field: &'static str,
        /// The value given.
        value: String,
        /// How many digits the field takes.
        digits: usize,
    },
    /// A municipality code that does not start with its province's code.
    #[error("istat_code: `{code}` does not start with its province_code `{province}`")]
    ProvinceMismatch {
        /// The municipality code.
        code: String,
        /// The province code.
        province: String,
    },
    /// A population that is not a whole number.
    #[error("population_2011: `{0}` is not a whole number")]
    Population(String),
    /// A territory other than a country without a parent.
    #[error("parent_code: a {0} needs a parent")]
    MissingParent(TerritoryLevel),
    /// A country with a parent.
    #[error("parent_code: a country has no parent, got `{0}`")]
    CountryParent(String),
    /// A territory or merger pointing at itself.
    #[error("{field}: `{code}` is the row's own code")]
    SelfReference {
        /// The field.
        field: &'static str,
        /// The code.
        code: String,
    },
    /// Mergers that lead back to a code already met.
    #[error("successor_code: the mergers of `{code}` loop: {}", path.join(" → "))]
    MergerCycle {
        /// The code being resolved.
        code: String,
        /// The codes met, ending with the one met twice.
        path: Vec<String>,
    },
}

/// Tells the format of a territory file from its header (trimmed, any case, a leading BOM ignored).
pub fn detect_format(header: &[&str]) -> Result<TerritoryFormat, TerritoryError> {
    if header_is(header, &ISTAT_HEADER) {
        Ok(TerritoryFormat::Istat)
    } else if header_is(header, &GENERIC_HEADER) {
        Ok(TerritoryFormat::Generic)
    } else {
        Err(TerritoryError::Header { found: header.join(",") })
    }
}

fn header_is(header: &[&str], expected: &[&str]) -> bool {
    header.len() == expected.len()
        && header.iter().zip(expected).enumerate().all(|(i, (h, e))| {
            let h = if i == 0 { h.trim_start_matches('\u{feff}') } else { h };
            h.trim().eq_ignore_ascii_case(e)
        })
}

/// Reads one data row: ISTAT rows give their region, province and municipality (in that order; the
/// caller de-duplicates regions and provinces by code), generic rows one territory.
pub fn parse_row(format: TerritoryFormat, fields: &[&str]) -> Result<Vec<TerritoryRecord>, TerritoryError> {
    match format {
        TerritoryFormat::Istat => istat_row(fields),
        TerritoryFormat::Generic => generic_row(fields).map(|r| vec![r]),
    }
}

fn check_count(fields: &[&str], header: &'static [&'static str]) -> Result<(), TerritoryError> {
    if fields.len() == header.len() {
        Ok(())
    } else {
        Err(TerritoryError::FieldCount { expected: header.len(), found: fields.len(), header })
    }
}

fn required(value: &str, field: &'static str) -> Result<String, TerritoryError> {
    let v = value.trim();
    if v.is_empty() { Err(TerritoryError::Empty(field)) } else { Ok(v.to_owned()) }
}

fn istat_code(value: &str, field: &'static str, digits: usize) -> Result<String, TerritoryError> {
    let v = required(value, field)?;
    if v.len() == digits && v.bytes().all(|b| b.is_ascii_digit()) {
        Ok(v)
    } else {
        Err(TerritoryError::IstatCode { field, value: v, digits })
    }
}

fn istat_row(fields: &[&str]) -> Result<Vec<TerritoryRecord>, TerritoryError> {
    check_count(fields, &ISTAT_HEADER)?;
    let code = istat_code(fields[0], "istat_code", 6)?;
    let name = required(fields[1], "name")?;
    let region_code = istat_code(fields[2], "region_code", 2)?;
    let region_name = required(fields[3], "region_name")?;
    let province_code = istat_code(fields[4], "province_code", 3)?;
    let province_name = required(fields[5], "province_name")?;
    // The abbreviation (`MI`) is not kept: codes identify provinces.
    let population = match fields[7].trim() {
        "" => None,
        p => Some(
            p.parse::<u64>()
                .ok()
                .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| TerritoryError::Population(p.to_owned()))?,
        ),
    };
    if !code.starts_with(&province_code) {
        return Err(TerritoryError::ProvinceMismatch { code, province: province_code });
    }
    Ok(vec![
        TerritoryRecord {
            code: region_code.clone(),
            name: region_name,
            level: TerritoryLevel::Region,
            parent_code: Some(ITALY.to_owned()),
            population: None,
        },
        TerritoryRecord {
            code: province_code.clone(),
            name: province_name,
            level: TerritoryLevel::Province,
            parent_code: Some(region_code),
            population: None,
        },
        TerritoryRecord {
            code,
            name,
            level: TerritoryLevel::Municipality,
            parent_code: Some(province_code),
            population,
        },
    ])
}

fn generic_row(fields: &[&str]) -> Result<TerritoryRecord, TerritoryError> {
    check_count(fields, &GENERIC_HEADER)?;
    let code = required(fields[0], "code")?;
    let name = required(fields[1], "name")?;
    let level_text = required(fields[2], "level")?;
    let level = TerritoryLevel::parse(&level_text.to_ascii_lowercase()).ok_or(TerritoryError::Level(level_text))?;
    let parent = fields[3].trim();
    let parent_code = match (level, parent) {
        (TerritoryLevel::Country, "") => None,
        (TerritoryLevel::Country, p) => return Err(TerritoryError::CountryParent(p.to_owned())),
        (l, "") => return Err(TerritoryError::MissingParent(l)),
        (_, p) if p == code => return Err(TerritoryError::SelfReference { field: "parent_code", code }),
        (_, p) => Some(p.to_owned()),
    };
    Ok(TerritoryRecord { code, name, level, parent_code, population: None })
}

/// A territory that no longer exists, and the one that took its place (a municipality merged into a new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergerRecord {
    /// The code that disappeared.
    pub old_code: String,
    /// The code that replaced it (which may itself have been merged later).
    pub successor_code: String,
}

impl MergerRecord {
    /// Checks the header of a mergers file: [`MERGER_HEADER`], trimmed, any case, a leading BOM ignored.
    pub fn check_header(header: &[&str]) -> Result<(), TerritoryError> {
        if header_is(header, &MERGER_HEADER) {
            Ok(())
        } else {
            Err(TerritoryError::MergerHeader { found: header.join(",") })
        }
    }

    /// Reads one data row of a mergers file.
    pub fn parse(fields: &[&str]) -> Result<MergerRecord, TerritoryError> {
        check_count(fields, &MERGER_HEADER)?;
        let old_code = required(fields[0], "old_code")?;
        let successor_code = required(fields[1], "successor_code")?;
        if old_code == successor_code {
            return Err(TerritoryError::SelfReference { field: "successor_code", code: old_code });
        }
        Ok(MergerRecord { old_code, successor_code })
    }
}

/// The code in force for `code`, following mergers (old code → successor) until a code that was not
/// merged; `code` itself when it never was. Refuses chains that loop.
pub fn resolve_successor(map: &HashMap<String, String>, code: &str) -> Result<String, TerritoryError> {
    let mut current = code;
    let mut seen = HashSet::from([code]);
    let mut path = vec![code];
    while let Some(next) = map.get(current).map(String::as_str) {
        path.push(next);
        if !seen.insert(next) {
            return Err(TerritoryError::MergerCycle {
                code: code.to_owned(),
                path: path.into_iter().map(str::to_owned).collect(),
            });
        }
        current = next;
    }
    Ok(current.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MILANO: [&str; 8] = ["015146", "Milano", "03", "Lombardia", "015", "Milano", "MI", "1242123"];

    fn record(code: &str, level: TerritoryLevel, parent: Option<&str>) -> TerritoryRecord {
        TerritoryRecord {
            code: code.into(),
            name: code.into(),
            level,
            parent_code: parent.map(Into::into),
            population: None,
        }
    }

    fn with(base: &[&'static str], index: usize, value: &'static str) -> Vec<&'static str> {
        let mut f = base.to_vec();
        f[index] = value;
        f
    }

    #[test]
    fn ranks_go_from_country_to_municipality() {
        let ranks: Vec<u8> = TerritoryLevel::ALL.iter().map(|l| l.rank()).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
    }

    #[test]
    fn only_the_level_just_above_may_be_parent() {
        use TerritoryLevel::*;
        assert!(may_parent(Region, Country));
        assert!(may_parent(Province, Region));
        assert!(may_parent(Municipality, Province));
        for (child, parent) in [(Municipality, Region), (Municipality, Country), (Province, Country), (Region, Region)]
        {
            assert!(!may_parent(child, parent), "{child} under {parent}");
        }
        for l in TerritoryLevel::ALL {
            assert!(!may_parent(Country, *l), "country under {l}");
        }
    }

    #[test]
    fn headers_are_detected_whatever_the_case_spaces_and_bom() {
        assert_eq!(detect_format(&ISTAT_HEADER), Ok(TerritoryFormat::Istat));
        assert_eq!(detect_format(&GENERIC_HEADER), Ok(TerritoryFormat::Generic));
        assert_eq!(detect_format(&["\u{feff}Code", " NAME ", "level", "parent_code"]), Ok(TerritoryFormat::Generic));
    }

    #[test]
    fn unknown_header_is_refused_showing_both_expected() {
        let err = detect_format(&["code", "name"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "header: `code,name` is not a territory header; expected \
             `istat_code,name,region_code,region_name,province_code,province_name,province_abbr,population_2011` \
             or `code,name,level,parent_code`"
        );
        assert!(detect_format(&[]).is_err());
        assert!(detect_format(&["code", "name", "level", "parent"]).is_err());
    }

    #[test]
    fn istat_row_gives_region_province_and_municipality_with_population() {
        let records = parse_row(TerritoryFormat::Istat, &MILANO).unwrap();
        assert_eq!(
            records,
            vec![
                TerritoryRecord { name: "Lombardia".into(), ..record("03", TerritoryLevel::Region, Some("IT")) },
                TerritoryRecord { name: "Milano".into(), ..record("015", TerritoryLevel::Province, Some("03")) },
                TerritoryRecord {
                    name: "Milano".into(),
                    population: Some(1_242_123),
                    ..record("015146", TerritoryLevel::Municipality, Some("015"))
                },
            ]
        );
        for r in &records[1..] {
            let parent = records.iter().find(|p| Some(&p.code) == r.parent_code.as_ref()).unwrap();
            assert!(may_parent(r.level, parent.level));
        }
    }

    #[test]
    fn istat_fields_are_trimmed_and_population_may_be_missing() {
        let fields = ["  015146 ", " Milano", "03", "Lombardia ", "015", "Milano", "", " "];
        let records = parse_row(TerritoryFormat::Istat, &fields).unwrap();
        assert_eq!(records[2].code, "015146");
        assert_eq!(records[2].name, "Milano");
        assert_eq!(records[0].name, "Lombardia");
        assert_eq!(records[2].population, None);
    }

    #[test]
    fn istat_codes_of_the_wrong_width_or_not_digits_are_refused_naming_the_field() {
        for (index, value, field, digits) in [
            (0, "15146", "istat_code", 6),
            (0, "01514A", "istat_code", 6),
            (2, "3", "region_code", 2),
            (2, "003", "region_code", 2),
            (4, "15", "province_code", 3),
            (4, "+15", "province_code", 3),
        ] {
            let err = parse_row(TerritoryFormat::Istat, &with(&MILANO, index, value)).unwrap_err();
            assert_eq!(err, TerritoryError::IstatCode { field, value: value.into(), digits }, "{value}");
        }
        let err = parse_row(TerritoryFormat::Istat, &with(&MILANO, 2, "3")).unwrap_err();
        assert_eq!(err.to_string(), "region_code: `3` is not an ISTAT code of 2 digits (leading zeros included)");
    }

    #[test]
    fn municipality_must_start_with_its_province_code() {
        let err = parse_row(TerritoryFormat::Istat, &with(&MILANO, 4, "016")).unwrap_err();
        assert_eq!(err.to_string(), "istat_code: `015146` does not start with its province_code `016`");
    }

    #[test]
    fn istat_blank_fields_and_bad_population_are_refused() {
        for (index, field) in [(1, "name"), (3, "region_name"), (5, "province_name"), (0, "istat_code")] {
            assert_eq!(
                parse_row(TerritoryFormat::Istat, &with(&MILANO, index, " ")),
                Err(TerritoryError::Empty(field))
            );
        }
        for bad in ["1.242.123", "-5", "12a", "+3"] {
            let err = parse_row(TerritoryFormat::Istat, &with(&MILANO, 7, bad)).unwrap_err();
            assert_eq!(err, TerritoryError::Population(bad.into()));
        }
        let abbr_blank = parse_row(TerritoryFormat::Istat, &with(&MILANO, 6, ""));
        assert!(abbr_blank.is_ok(), "the abbreviation is not used");
    }

    #[test]
    fn wrong_field_count_names_expected_and_found() {
        let err = parse_row(TerritoryFormat::Istat, &MILANO[..7]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "row: expected 8 fields (istat_code,name,region_code,region_name,province_code,province_name,\
             province_abbr,population_2011), found 7"
        );
        let err = parse_row(TerritoryFormat::Generic, &["IT", "Italia", "country", "", "x"]).unwrap_err();
        assert_eq!(err.to_string(), "row: expected 4 fields (code,name,level,parent_code), found 5");
    }

    #[test]
    fn generic_rows_give_one_territory_of_any_level() {
        assert_eq!(
            parse_row(TerritoryFormat::Generic, &["IT", "Italia", "country", ""]).unwrap(),
            vec![TerritoryRecord { name: "Italia".into(), ..record("IT", TerritoryLevel::Country, None) }]
        );
        assert_eq!(
            parse_row(TerritoryFormat::Generic, &[" 08019 ", "Barcelona", " Municipality ", " 08 "]).unwrap(),
            vec![TerritoryRecord {
                name: "Barcelona".into(),
                ..record("08019", TerritoryLevel::Municipality, Some("08"))
            }]
        );
    }

    #[test]
    fn generic_unknown_level_lists_the_known_ones() {
        let err = parse_row(TerritoryFormat::Generic, &["X", "X", "district", "IT"]).unwrap_err();
        assert_eq!(err.to_string(), "level: `district` is not one of: country, region, province, municipality");
    }

    #[test]
    fn generic_parents_are_required_below_country_and_refused_for_it() {
        let row = |level, parent| parse_row(TerritoryFormat::Generic, &["C", "C", level, parent]);
        assert_eq!(row("region", " "), Err(TerritoryError::MissingParent(TerritoryLevel::Region)));
        assert_eq!(row("region", "").unwrap_err().to_string(), "parent_code: a region needs a parent");
        assert_eq!(row("country", "EU"), Err(TerritoryError::CountryParent("EU".into())));
        assert_eq!(row("province", "C").unwrap_err().to_string(), "parent_code: `C` is the row's own code");
        assert_eq!(parse_row(TerritoryFormat::Generic, &["", "C", "region", "IT"]), Err(TerritoryError::Empty("code")));
        assert_eq!(parse_row(TerritoryFormat::Generic, &["C", "", "region", "IT"]), Err(TerritoryError::Empty("name")));
        assert_eq!(parse_row(TerritoryFormat::Generic, &["C", "C", "", "IT"]), Err(TerritoryError::Empty("level")));
    }

    #[test]
    fn merger_rows_are_read_after_their_header() {
        assert_eq!(MergerRecord::check_header(&["\u{feff}old_code", "Successor_Code"]), Ok(()));
        assert_eq!(
            MergerRecord::check_header(&["old", "new"]).unwrap_err().to_string(),
            "header: `old,new` is not a mergers header; expected `old_code,successor_code`"
        );
        assert_eq!(
            MergerRecord::parse(&[" 022001 ", "022250"]),
            Ok(MergerRecord { old_code: "022001".into(), successor_code: "022250".into() })
        );
        assert_eq!(MergerRecord::parse(&["022001", ""]), Err(TerritoryError::Empty("successor_code")));
        assert_eq!(MergerRecord::parse(&["", "022250"]), Err(TerritoryError::Empty("old_code")));
        assert!(matches!(MergerRecord::parse(&["a"]), Err(TerritoryError::FieldCount { expected: 2, found: 1, .. })));
        assert_eq!(
            MergerRecord::parse(&["022001", "022001"]).unwrap_err().to_string(),
            "successor_code: `022001` is the row's own code"
        );
    }

    fn mergers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn successor_follows_chains_and_unmerged_codes_resolve_to_themselves() {
        let map = mergers(&[("A", "B"), ("B", "C"), ("X", "C")]);
        assert_eq!(resolve_successor(&map, "A"), Ok("C".into()));
        assert_eq!(resolve_successor(&map, "B"), Ok("C".into()));
        assert_eq!(resolve_successor(&map, "X"), Ok("C".into()));
        assert_eq!(resolve_successor(&map, "C"), Ok("C".into()));
        assert_eq!(resolve_successor(&map, "Z"), Ok("Z".into()));
    }

    #[test]
    fn successor_cycles_are_refused_showing_the_loop() {
        let map = mergers(&[("A", "B"), ("B", "C"), ("C", "B"), ("S", "S")]);
        let err = resolve_successor(&map, "A").unwrap_err();
        assert_eq!(err.to_string(), "successor_code: the mergers of `A` loop: A → B → C → B");
        assert!(matches!(resolve_successor(&map, "S"), Err(TerritoryError::MergerCycle { .. })));
    }

    proptest! {
        /// Following mergers either ends on a code nobody replaced, or reports a loop; never hangs.
        #[test]
        fn successor_is_never_itself_merged(
            pairs in proptest::collection::vec((0u8..12, 0u8..12), 0..16),
            start in 0u8..12,
        ) {
            let map: HashMap<String, String> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            match resolve_successor(&map, &start.to_string()) {
                Ok(code) => prop_assert!(!map.contains_key(&code)),
                Err(TerritoryError::MergerCycle { path, .. }) => {
                    let last = path.last().cloned().unwrap_or_default();
                    prop_assert_eq!(path.iter().filter(|c| **c == last).count(), 2);
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }

        /// Any well-formed ISTAT row yields a region under IT, a province under it and a municipality under that.
        #[test]
        fn well_formed_istat_rows_build_a_chain(
            region in "[0-9]{2}",
            province in "[0-9]{3}",
            rest in "[0-9]{3}",
            pop in proptest::option::of(0u64..5_000_000),
        ) {
            let code = format!("{province}{rest}");
            let pop_text = pop.map(|p| p.to_string()).unwrap_or_default();
            let fields = [code.as_str(), "M", region.as_str(), "R", province.as_str(), "P", "XX", pop_text.as_str()];
            let r = parse_row(TerritoryFormat::Istat, &fields).unwrap();
            prop_assert_eq!(r.len(), 3);
            prop_assert_eq!(r[0].parent_code.as_deref(), Some(ITALY));
            prop_assert_eq!(r[1].parent_code.as_deref(), Some(region.as_str()));
            prop_assert_eq!(r[2].parent_code.as_deref(), Some(province.as_str()));
            prop_assert_eq!(r[2].population, pop);
        }
    }
}
