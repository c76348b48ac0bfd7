//! The golden corpus: each `tests/data/ics/NAME.ics` read and expanded over
//! 2025 (all-day days in UTC) must give exactly `NAME.expected`: one line per
//! problem (`problem LINE`, in the order found) then one per occurrence
//! (`UID START END` in UTC, sorted).

use super::*;
use calsync::schedule::ics::{events_from_ics, rfc3339};
use std::path::Path;

fn expand_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("corpus file is readable");
    let (events, problems) = events_from_ics(&text);
    let window = (at(Tz::UTC, 2025, 1, 1, 0, 0), at(Tz::UTC, 2026, 1, 1, 0, 0));
    let (index, build_problems) = BusyIndex::build(
        &[calendar("file", events)],
        window.0,
        window.1,
        Tz::UTC,
        &mut Work::default(),
    )
    .expect("within the work budget");
    assert!(
        build_problems.is_empty(),
        "{}: {build_problems:?}",
        path.display()
    );
    let mut lines: Vec<String> = problems
        .iter()
        .map(|p| format!("problem {}", p.line))
        .collect();
    let mut occurrences: Vec<String> = index
        .occurrences()
        .map(|o| {
            format!(
                "{} {} {}",
                o.existing.uid.unwrap_or_default(),
                rfc3339(o.start),
                rfc3339(o.end)
            )
        })
        .collect();
    occurrences.sort();
    lines.extend(occurrences);
    lines.join("\n") + "\n"
}

#[test]
fn every_corpus_file_expands_to_its_expected_occurrences() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ics");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "ics") {
            let expected = std::fs::read_to_string(path.with_extension("expected"))
                .expect("each .ics has a .expected");
            assert_eq!(expand_file(&path), expected, "{}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 4, "the corpus is there");
}
