//! Mutated iCalendar files, seeded from the golden corpus (zones of the
//! file's own, deep nesting among them): reading and expanding them never
//! panics, and the work they cause stays bounded: the occurrences indexed
//! never exceed the series read times the expansion cap, and the reader's
//! counts stay within its limits.
//!
//! The default run plays a fixed seed; `CALSYNC_FUZZ_SEED` and
//! `CALSYNC_FUZZ_CASES` replay or lengthen it.

use super::*;
use calsync::schedule::ics::{IcsOptions, MAX_DEPTH, MAX_LINES, read_ics_counted};
use calsync::schedule::{OutOfWork, Work};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The work one mutated file may cost: a year of a dense series is far more.
const WORK_PER_FILE: u64 = 200_000;

/// Lines that have broken readers before, to splice into files.
const ODD_LINES: &[&str] = &[
    "DURATION:P100000000D",
    "DURATION:P99999999999999999W",
    "DURATION:-PT1H",
    "DTSTART:99991231T230000Z",
    "DTSTART:00010101T000000Z",
    "DTSTART;VALUE=DATE:20250230",
    "DTSTART;TZID=Nowhere/Land:20250107T140000",
    "DTEND;VALUE=DATE:19000101",
    "RRULE:FREQ=SECONDLY;INTERVAL=1",
    "RRULE:FREQ=MINUTELY;COUNT=100000000",
    "RRULE:FREQ=DAILY;COUNT=0",
    "RRULE:FREQ=YEARLY;BYSETPOS=-366;BYYEARDAY=1,-1",
    "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;UNTIL=99991231T000000Z",
    "RDATE;VALUE=PERIOD:20250107T140000Z/P100000D",
    "RDATE:20250107T140000Z,20250107T140000Z,garbage",
    "EXDATE;TZID=Europe/Berlin:",
    "RECURRENCE-ID;RANGE=THISANDFUTURE:20250107T140000Z",
    "RECURRENCE-ID;VALUE=DATE:20250107",
    "SEQUENCE:99999999999999999999",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "BEGIN:VTIMEZONE",
    "TZOFFSETTO:+9999",
    "TZID:Custom/Berlin",
    "BEGIN:STANDARD",
    "BEGIN:DAYLIGHT",
    "END:STANDARD",
    "DTSTART:16011028T030000",
    "TZOFFSETFROM:+0200",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "RRULE:FREQ=DAILY;UNTIL=19991231T000000Z",
    "RDATE:20250330T020000,bad",
    "DTSTART;TZID=Custom/Berlin:20250330T023000",
    "EXDATE;TZID=Lunar Base:20250421T090000,20250428T090000/PT1H",
    "RDATE;TZID=Custom/Berlin;VALUE=PERIOD:20250107T140000/20250107T150000",
    "BEGIN:X-DEEP",
    "END:X-DEEP",
    "STATUS:MAYBE",
    "DTEND;VALUE=DATE:20250107",
    "END:VCALENDAR",
    "X-WR-TIMEZONE:Antarctica/Troll",
    ";;;:::",
    " folded continuation",
    "UID:",
];

fn mutate(rng: &mut StdRng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for _ in 0..rng.random_range(1..=6) {
        let at = rng.random_range(0..=lines.len());
        match rng.random_range(0..6) {
            0 if !lines.is_empty() => {
                lines.remove(at.min(lines.len() - 1));
            }
            1 if !lines.is_empty() => {
                let copy = lines[at.min(lines.len() - 1)].clone();
                lines.insert(at, copy);
            }
            2 if !lines.is_empty() => {
                let last = lines.len() - 1;
                let line = &mut lines[at.min(last)];
                let mut cut = rng.random_range(0..=line.len());
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
            }
            _ => lines.insert(
                at,
                ODD_LINES[rng.random_range(0..ODD_LINES.len())].to_owned(),
            ),
        }
    }
    lines.join("\r\n")
}

#[test]
fn mutated_calendars_never_panic_and_their_work_is_bounded() {
    let seed: u64 = std::env::var("CALSYNC_FUZZ_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(0x1C5);
    let cases: usize = std::env::var("CALSYNC_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(300);
    println!("ics fuzz seed {seed}, {cases} cases (CALSYNC_FUZZ_SEED={seed} replays)");
    let corpus_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ics");
    let mut corpus: Vec<String> = std::fs::read_dir(&corpus_dir)
        .expect("corpus")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "ics"))
        .map(|path| std::fs::read_to_string(path).expect("readable"))
        .collect();
    corpus.sort();
    let window = (at(Tz::UTC, 2025, 1, 1, 0, 0), at(Tz::UTC, 2026, 1, 1, 0, 0));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut read = 0;
    let mut exhausted = 0;
    for case in 0..cases {
        let source = rng.random_range(0..corpus.len());
        let text = mutate(&mut rng, &corpus[source]);
        let outcome = std::panic::catch_unwind(|| {
            let read = read_ics_counted(&text, &IcsOptions::default());
            assert!(read.work.deepest <= MAX_DEPTH && read.work.lines <= MAX_LINES);
            let events: Vec<_> = read.events.into_iter().map(|read| read.event).collect();
            let series = events.len();
            let mut work = Work::new(WORK_PER_FILE);
            let built = BusyIndex::build(
                &[calendar("file", events)],
                window.0,
                window.1,
                Tz::Europe__Berlin,
                &mut work,
            );
            let occurrences = match built {
                Ok((index, _)) => Ok(index.occurrences().count()),
                Err(spent) => Err(spent.why),
            };
            (series, occurrences, work.used())
        });
        let Ok((series, occurrences, used)) = outcome else {
            panic!("case {case} (seed {seed}) panicked on:\n{text}");
        };
        read += series;
        // Work is counted, and bounded by the budget whatever the file says.
        assert!(
            used <= WORK_PER_FILE + 1,
            "case {case} (seed {seed}): {used} units"
        );
        match occurrences {
            Ok(occurrences) => assert!(
                occurrences as u64 <= used,
                "case {case} (seed {seed}): {occurrences} occurrences for {used} units"
            ),
            Err(why) => {
                assert_eq!(
                    why,
                    OutOfWork::Exhausted {
                        limit: WORK_PER_FILE
                    }
                );
                exhausted += 1;
            }
        }
    }
    println!("ics fuzz: {cases} files, {read} events read, {exhausted} over the work budget");
}
