//! Zones only the file's own `VTIMEZONE` defines (RFC 5545 §3.6.5): their
//! daylight-saving rules are kept, whether the zone matches an IANA zone
//! (then it is read as that zone) or matches none (then its own STANDARD and
//! DAYLIGHT observances place every time).

use super::*;
use calsync::schedule::ics::events_from_ics;

/// Europe/Berlin's rules under a name no zone database knows.
const CUSTOM_BERLIN: &str = "BEGIN:VTIMEZONE\r
TZID:Custom/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
DTSTART:19810329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZNAME:CEST\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
DTSTART:19961027T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZNAME:CET\r
END:STANDARD\r
END:VTIMEZONE\r
";

fn calendar_with(zone: &str, events: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{zone}{events}END:VCALENDAR\r\n")
}

fn vevent(uid: &str, lines: &[&str]) -> String {
    let mut text = format!("BEGIN:VEVENT\r\nUID:{uid}\r\n");
    for line in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text + "END:VEVENT\r\n"
}

fn expand_2025(events: Vec<ProviderEvent>, zone: Tz) -> Vec<String> {
    let (index, problems) = BusyIndex::build(
        &[calendar("file", events)],
        at(Tz::UTC, 2025, 1, 1, 0, 0),
        at(Tz::UTC, 2026, 1, 1, 0, 0),
        zone,
        &mut Work::default(),
    )
    .expect("within the work budget");
    assert!(problems.is_empty(), "{problems:?}");
    local_starts(&index, zone)
}

#[test]
fn a_custom_named_zone_with_berlin_rules_keeps_daylight_saving() {
    let events = [
        vevent(
            "summer",
            &[
                "DTSTART;TZID=Custom/Berlin:20250715T100000",
                "DTEND;TZID=Custom/Berlin:20250715T110000",
            ],
        ),
        vevent(
            "winter",
            &[
                "DTSTART;TZID=Custom/Berlin:20250115T100000",
                "DTEND;TZID=Custom/Berlin:20250115T110000",
            ],
        ),
    ]
    .concat();
    let (read, problems) = events_from_ics(&calendar_with(CUSTOM_BERLIN, &events));
    assert!(problems.is_empty(), "{problems:?}");
    let berlin = Tz::Europe__Berlin;
    assert_eq!(
        read[0].start,
        EventTime::Instant(at(berlin, 2025, 7, 15, 10, 0))
    );
    assert_eq!(
        read[0].end,
        EventTime::Instant(at(berlin, 2025, 7, 15, 11, 0))
    );
    assert_eq!(
        read[0].start,
        EventTime::Instant(at(Tz::UTC, 2025, 7, 15, 8, 0)),
        "+02:00 in July"
    );
    assert_eq!(
        read[1].start,
        EventTime::Instant(at(Tz::UTC, 2025, 1, 15, 9, 0)),
        "+01:00 in January"
    );
    assert_eq!(
        read[0].time_zone.as_deref(),
        Some("Europe/Berlin"),
        "the IANA zone whose rules match, found by the city in the name"
    );
}

#[test]
fn a_weekly_series_in_a_custom_zone_keeps_its_wall_clock_and_loses_its_exdate() {
    // Clocks go forward on Sunday 2025-03-30; the EXDATE is after the change.
    let series = vevent(
        "weekly",
        &[
            "DTSTART;TZID=Custom/Berlin:20250317T090000",
            "DTEND;TZID=Custom/Berlin:20250317T100000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE;TZID=Custom/Berlin:20250331T090000",
        ],
    );
    let (read, problems) = events_from_ics(&calendar_with(CUSTOM_BERLIN, &series));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(read[0].recurrence.len(), 2, "{:?}", read[0].recurrence);
    let berlin = Tz::Europe__Berlin;
    assert_eq!(
        expand_2025(read, berlin),
        vec!["2025-03-17 09:00", "2025-03-24 09:00", "2025-04-07 09:00"]
    );
}

/// Outlook writes the Windows display name as the TZID, and rules from 1601.
#[test]
fn an_outlook_display_name_with_rules_from_1601_reads_as_its_zone() {
    let zone = "BEGIN:VTIMEZONE\r
TZID:(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna\r
BEGIN:STANDARD\r
DTSTART:16011028T030000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010325T020000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
";
    let tzid = "\"(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna\"";
    let events = vevent(
        "outlook",
        &[
            &format!("DTSTART;TZID={tzid}:20250603T140000"),
            &format!("DTEND;TZID={tzid}:20250603T150000"),
        ],
    );
    let (read, problems) = events_from_ics(&calendar_with(zone, &events));
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        read[0].start,
        EventTime::Instant(at(Tz::UTC, 2025, 6, 3, 12, 0))
    );
    let named = read[0].time_zone.as_deref().and_then(resolve_zone_name);
    assert_eq!(
        named.map(|zone| at(zone, 2025, 12, 3, 14, 0)),
        Some(at(Tz::UTC, 2025, 12, 3, 13, 0)),
        "an IANA zone with the same rules: {:?}",
        read[0].time_zone
    );
}

fn resolve_zone_name(name: &str) -> Option<Tz> {
    calsync::schedule::resolve_zone(name)
}

/// Daylight saving from the second Sunday of April to the first Sunday of
/// October: no IANA zone keeps these rules.
const LUNAR: &str = "BEGIN:VTIMEZONE\r
TZID:Lunar Base\r
BEGIN:STANDARD\r
DTSTART:20001001T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:20000409T020000\r
RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=2SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
";

#[test]
fn a_zone_matching_no_iana_zone_is_read_by_its_own_observances() {
    let events = [
        vevent(
            "july",
            &[
                "DTSTART;TZID=Lunar Base:20250715T100000",
                "DTEND;TZID=Lunar Base:20250715T110000",
            ],
        ),
        vevent(
            "january",
            &[
                "DTSTART;TZID=Lunar Base:20250115T100000",
                "DTEND;TZID=Lunar Base:20250115T110000",
            ],
        ),
        // Between the IANA and the Lunar changes: Berlin is already on
        // daylight time, Lunar Base not yet.
        vevent("april", &["DTSTART;TZID=Lunar Base:20250410T100000"]),
        // 02:30 on 2025-04-13 does not exist there: read with the offset
        // before the gap (RFC 5545 §3.3.5).
        vevent("gap", &["DTSTART;TZID=Lunar Base:20250413T023000"]),
    ]
    .concat();
    let (read, problems) = events_from_ics(&calendar_with(LUNAR, &events));
    assert!(problems.is_empty(), "{problems:?}");
    let utc = Tz::UTC;
    assert_eq!(
        read[0].start,
        EventTime::Instant(at(utc, 2025, 7, 15, 8, 0))
    );
    assert_eq!(read[0].end, EventTime::Instant(at(utc, 2025, 7, 15, 9, 0)));
    assert_eq!(
        read[1].start,
        EventTime::Instant(at(utc, 2025, 1, 15, 9, 0))
    );
    assert_eq!(
        read[2].start,
        EventTime::Instant(at(utc, 2025, 4, 10, 9, 0))
    );
    assert_eq!(
        read[3].start,
        EventTime::Instant(at(utc, 2025, 4, 13, 1, 30))
    );
}

#[test]
fn a_series_in_a_zone_matching_none_keeps_its_exdate_and_rdate_and_says_it_falls_back() {
    let series = vevent(
        "lunar-weekly",
        &[
            "DTSTART;TZID=Lunar Base:20250414T090000",
            "DTEND;TZID=Lunar Base:20250414T100000",
            "RRULE:FREQ=WEEKLY;COUNT=4",
            "EXDATE;TZID=Lunar Base:20250421T090000",
            "RDATE;TZID=Lunar Base:20250102T090000",
        ],
    );
    let (read, problems) = events_from_ics(&calendar_with(LUNAR, &series));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("Lunar Base"),
        "the fallback names the zone: {problems:?}"
    );
    assert_eq!(problems[0].line, 20, "{problems:?}");
    assert_eq!(read[0].recurrence.len(), 3, "{:?}", read[0].recurrence);
    assert_eq!(
        expand_2025(read, Tz::UTC),
        vec![
            "2025-01-02 08:00",
            "2025-04-14 07:00",
            "2025-04-28 07:00",
            "2025-05-05 07:00"
        ],
        "the RDATE at +01:00, the EXDATE removed"
    );
}

/// A TZID that neither the zone database nor the file knows is read in the
/// file's default zone, with a warning.
#[test]
fn an_unknown_zone_without_a_vtimezone_still_reads_in_the_default_zone() {
    let text = calendar_with(
        "X-WR-TIMEZONE:Europe/Berlin\r\n",
        &vevent("odd", &["DTSTART;TZID=Custom/Berlin:20250707T140000"]),
    );
    let (read, problems) = events_from_ics(&text);
    assert_eq!(
        read[0].start,
        EventTime::Instant(at(Tz::Europe__Berlin, 2025, 7, 7, 14, 0))
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("Custom/Berlin"),
        "{problems:?}"
    );
}
