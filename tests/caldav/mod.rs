//! The CalDAV adapter against two real servers, Radicale and Xandikos
//! (started by `scripts/caldav-servers.sh`). They lay out URLs differently
//! (Radicale: principal and home at `/user/`, no calendar until one is made;
//! Xandikos: home at `/user/calendars/` with a default calendar), and the
//! same adapter code must handle both.

mod actions;
mod calendars;
#[cfg(feature = "cli")]
mod import;
mod principle;
mod recovery;
pub(crate) mod support;

use calsync::model::{EventTime, Provider};
use calsync::providers::{AccountProvider, CalendarProvider, ProviderErrorKind, Session};
use support::{at, context, meeting, provider, servers};

#[tokio::test]
async fn discovery_finds_or_creates_the_event_calendar() {
    for server in servers("discovery_finds_or_creates_the_event_calendar") {
        if server.name == "radicale" {
            // A login whose home holds nothing yet: connect makes a calendar.
            let mut fresh = server.clone();
            fresh.user = format!("{}-fresh", server.user);
            let connection = provider()
                .connect(&fresh.credentials(None))
                .await
                .expect("connect a fresh Radicale account");
            let calendar = connection.calendar_id.clone().expect("a calendar");
            let home = connection.credentials.get_str("home_url").expect("home");
            assert!(home.ends_with(&format!("/{}/", fresh.user)), "{home}");
            assert!(calendar.starts_with(home), "{calendar} in {home}");
            assert_eq!(connection.label.as_deref(), Some(fresh.user.as_str()));
            // Connecting again finds the same calendar instead of making another.
            let again = provider()
                .connect(&fresh.credentials(None))
                .await
                .expect("again");
            assert_eq!(again.calendar_id.as_deref(), Some(calendar.as_str()));
            // Leave the home empty for the next run.
            let (status, _, _) = fresh.raw("DELETE", &calendar, &[], None).await;
            assert!((200..300).contains(&status), "{status}");
        } else {
            let connection = provider()
                .connect(&server.credentials(None))
                .await
                .expect("connect to Xandikos");
            let home = connection.credentials.get_str("home_url").expect("home");
            assert!(
                home.ends_with(&format!("/{}/calendars/", server.user)),
                "{home}"
            );
            let calendar = connection.calendar_id.expect("a calendar");
            assert!(calendar.starts_with(home), "{calendar}");
        }
        // Choosing by display name.
        let name = server.new_calendar().await;
        let named = provider()
            .connect(&server.credentials(Some(&name)))
            .await
            .expect("connect by name");
        let url = named.calendar_id.expect("named calendar");
        assert!(url.ends_with(&format!("/{name}/")), "{url}");
        let missing = provider()
            .connect(&server.credentials(Some("no such calendar")))
            .await
            .expect_err("an unknown calendar name");
        assert_eq!(
            missing.kind,
            ProviderErrorKind::InvalidCredentials,
            "{missing}"
        );
        assert!(missing.message.contains("calendar"), "{missing}");
    }
}

#[tokio::test]
async fn create_is_idempotent_per_key() {
    for server in servers("create_is_idempotent_per_key") {
        let (connection, session) = server.connect_fresh().await;
        let calendar = connection.calendar_id.clone().expect("calendar");
        let event = meeting("Kick-off");
        let write = context();
        let first = provider()
            .create_event(&session, &event, &write)
            .await
            .expect("create");
        assert_eq!(first.provider, Provider::Apple);
        assert!(first.event_id.starts_with(&calendar), "{}", first.event_id);
        assert!(first.etag.is_some());
        assert_eq!(first.calendar_id.as_deref(), Some(calendar.as_str()));
        let again = provider()
            .create_event(&session, &event, &write)
            .await
            .expect("repeated create");
        assert_eq!(again.event_id, first.event_id, "{}", server.name);
        assert_eq!(server.members(&calendar).await.len(), 1, "{}", server.name);

        let (status, etag, body) = server.raw("GET", &first.event_id, &[], None).await;
        assert_eq!(status, 200);
        assert_eq!(etag, first.etag, "the kept ETag is the server's");
        assert!(
            body.contains(&format!("X-CALSYNC-ID:{}", write.synced_id)),
            "{body}"
        );
        assert!(body.contains("TZID=Europe/Berlin"), "{body}");
        assert!(body.contains("BEGIN:VTIMEZONE"), "{body}");

        // A different key is a different event.
        let other = provider()
            .create_event(&session, &event, &context())
            .await
            .expect("second event");
        assert_ne!(other.event_id, first.event_id);
        assert_eq!(server.members(&calendar).await.len(), 2);
    }
}

/// A create is found again by its key (what settles a create whose answer
/// was lost); another key, and a deleted event, are not found.
#[tokio::test]
async fn find_created_reads_back_by_key() {
    for server in servers("find_created_reads_back_by_key") {
        let (_, session) = server.connect_fresh().await;
        let write = context();
        let nothing = provider()
            .find_created(&session, &write)
            .await
            .expect("find before the create");
        assert_eq!(nothing, None);
        let created = provider()
            .create_event(&session, &meeting("Kick-off"), &write)
            .await
            .expect("create");
        let found = provider()
            .find_created(&session, &write)
            .await
            .expect("find");
        let found = found.expect("the create is found by its key");
        assert_eq!(
            (&found.event_id, &found.etag),
            (&created.event_id, &created.etag)
        );
        let other = provider()
            .find_created(&session, &context())
            .await
            .expect("find another key");
        assert_eq!(other, None);
        provider()
            .delete_event(&session, &created, &context())
            .await
            .expect("delete");
        let gone = provider()
            .find_created(&session, &write)
            .await
            .expect("find after the delete");
        assert_eq!(gone, None);
    }
}

#[tokio::test]
async fn update_uses_if_match_and_bumps_sequence() {
    for server in servers("update_uses_if_match_and_bumps_sequence") {
        let (_, session) = server.connect_fresh().await;
        let write = context();
        let created = provider()
            .create_event(&session, &meeting("Draft title"), &write)
            .await
            .expect("create");
        let mut changed = meeting("Final title");
        changed.start = EventTime::Instant(at(11));
        changed.end = EventTime::Instant(at(12));
        let fields = ["title".to_owned(), "start".to_owned(), "end".to_owned()];
        let updated = provider()
            .update_event(&session, &created, &changed, &fields, &write)
            .await
            .expect("update");
        assert_eq!(updated.event_id, created.event_id);
        assert_ne!(updated.etag, created.etag);
        let (_, etag, body) = server.raw("GET", &created.event_id, &[], None).await;
        assert_eq!(etag, updated.etag);
        assert!(body.contains("SUMMARY:Final title"), "{body}");
        assert!(body.contains("SEQUENCE:1"), "{body}");
        // 11:00 UTC is 12:00 in Berlin.
        assert!(
            body.contains("DTSTART;TZID=Europe/Berlin:20300304T120000"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn update_after_a_concurrent_edit_keeps_both_changes() {
    for server in servers("update_after_a_concurrent_edit_keeps_both_changes") {
        let (_, session) = server.connect_fresh().await;
        let write = context();
        let created = provider()
            .create_event(&session, &meeting("Planning"), &write)
            .await
            .expect("create");
        // Another client moves the meeting to another room.
        let (_, etag, body) = server.raw("GET", &created.event_id, &[], None).await;
        assert!(body.contains("LOCATION:Room 1"), "{body}");
        let theirs = body.replace("LOCATION:Room 1", "LOCATION:Room 9");
        let etag = etag.expect("an ETag");
        let (status, _, text) = server
            .raw(
                "PUT",
                &created.event_id,
                &[("If-Match", &etag), ("Content-Type", "text/calendar")],
                Some(theirs),
            )
            .await;
        assert!((200..300).contains(&status), "{status} {text}");
        // calsync, still holding the old ETag, renames it.
        let updated = provider()
            .update_event(
                &session,
                &created,
                &meeting("Planning (moved)"),
                &["title".to_owned()],
                &write,
            )
            .await
            .expect("update after a concurrent edit");
        let (_, etag, body) = server.raw("GET", &created.event_id, &[], None).await;
        assert_eq!(etag, updated.etag);
        assert!(
            body.contains("SUMMARY:Planning (moved)"),
            "{}: {body}",
            server.name
        );
        assert!(
            body.contains("LOCATION:Room 9"),
            "{}: the other edit survives: {body}",
            server.name
        );
    }
}

#[tokio::test]
async fn delete_twice_is_fine() {
    for server in servers("delete_twice_is_fine") {
        let (connection, session) = server.connect_fresh().await;
        let created = provider()
            .create_event(&session, &meeting("Short-lived"), &context())
            .await
            .expect("create");
        provider()
            .delete_event(&session, &created, &context())
            .await
            .expect("delete");
        let (status, _, _) = server.raw("GET", &created.event_id, &[], None).await;
        assert_eq!(status, 404);
        provider()
            .delete_event(&session, &created, &context())
            .await
            .expect("delete again");
        let calendar = connection.calendar_id.expect("calendar");
        assert!(server.members(&calendar).await.is_empty());
    }
}

#[tokio::test]
async fn delete_after_a_concurrent_edit_still_deletes() {
    for server in servers("delete_after_a_concurrent_edit_still_deletes") {
        let (_, session) = server.connect_fresh().await;
        let created = provider()
            .create_event(&session, &meeting("Edited elsewhere"), &context())
            .await
            .expect("create");
        let (_, etag, body) = server.raw("GET", &created.event_id, &[], None).await;
        let etag = etag.expect("an ETag");
        let edited = body.replace("LOCATION:Room 1", "LOCATION:Room 2");
        let (status, _, _) = server
            .raw(
                "PUT",
                &created.event_id,
                &[("If-Match", &etag), ("Content-Type", "text/calendar")],
                Some(edited),
            )
            .await;
        assert!((200..300).contains(&status));
        provider()
            .delete_event(&session, &created, &context())
            .await
            .expect("delete with a stale ETag");
        let (status, _, _) = server.raw("GET", &created.event_id, &[], None).await;
        assert_eq!(status, 404);
    }
}

#[tokio::test]
async fn wrong_password_is_refused() {
    for server in servers("wrong_password_is_refused") {
        if !server.checks_passwords {
            eprintln!(
                "{}: serves without authentication on plain HTTP; not tested here",
                server.name
            );
            continue;
        }
        let (_, session) = server.connect_fresh().await;
        let mut wrong = server.clone();
        wrong.password = "not-the-password".into();
        let error = provider()
            .connect(&wrong.credentials(None))
            .await
            .expect_err("wrong password");
        assert_eq!(error.kind, ProviderErrorKind::InvalidCredentials, "{error}");
        // A password changed after connecting: writes are unauthorized, and
        // refreshing cannot help.
        let mut stale = session.clone();
        stale.credentials.set_str("password", "not-the-password");
        let error = provider()
            .create_event(&stale, &meeting("Refused"), &context())
            .await
            .expect_err("unauthorized write");
        assert_eq!(error.kind, ProviderErrorKind::Unauthorized, "{error}");
        let error = provider()
            .refresh(&stale.credentials)
            .await
            .expect_err("refresh");
        assert_eq!(error.kind, ProviderErrorKind::InvalidGrant, "{error}");
        provider()
            .refresh(&session.credentials)
            .await
            .expect("the right password refreshes");
        provider().validate(&session).await.expect("and validates");
    }
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let mut credentials = calsync::providers::Credentials::default();
    credentials.set_str("username", "someone");
    credentials.set_str("password", "secret");
    credentials.set_str("url", format!("http://127.0.0.1:{port}"));
    let error = provider()
        .connect(&credentials)
        .await
        .expect_err("nobody listens");
    assert_eq!(error.kind, ProviderErrorKind::Unavailable, "{error}");
    assert!(error.message.contains("cannot connect"), "{error}");
    let session = Session {
        account: "a".into(),
        credentials,
        calendar_id: Some(format!("http://127.0.0.1:{port}/user/cal/")),
    };
    let error = provider()
        .list_events(&session, at(0), at(23))
        .await
        .expect_err("nobody listens");
    assert_eq!(error.kind, ProviderErrorKind::Unavailable, "{error}");
}

#[tokio::test]
async fn list_events_reads_every_calendar_of_the_account() {
    for server in servers("list_events_reads_every_calendar_of_the_account") {
        let (_, session) = server.connect_fresh().await;
        let write = context();
        let ours = provider()
            .create_event(&session, &meeting("Ours"), &write)
            .await
            .expect("create");
        // Another client puts a weekly series into another calendar.
        let other = server.new_calendar().await;
        let home = session.credentials.get_str("home_url").expect("home");
        let uid = format!("series-{}", uuid::Uuid::new_v4().simple());
        let series = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//Client//EN\r\n\
             BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20300101T000000Z\r\n\
             DTSTART:20300204T080000Z\r\nDTEND:20300204T083000Z\r\n\
             SUMMARY:Weekly stand-up\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n\
             X-OTHER:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        let (status, _, text) = server
            .raw(
                "PUT",
                &format!("{home}{other}/{uid}.ics"),
                &[("If-None-Match", "*"), ("Content-Type", "text/calendar")],
                Some(series),
            )
            .await;
        assert!((200..300).contains(&status), "{status} {text}");
        // 2030-03-04 is a Monday, a month after the series began.
        let events = provider()
            .list_events(&session, at(0), at(23))
            .await
            .expect("list");
        let mine = events
            .iter()
            .find(|event| event.synced_id.as_ref() == Some(&write.synced_id))
            .expect("calsync's own event, with its id");
        assert_eq!(mine.event_id, ours.event_id);
        assert_eq!(mine.time_zone.as_deref(), Some("Europe/Berlin"));
        let weekly = events
            .iter()
            .find(|event| event.uid.as_deref() == Some(uid.as_str()))
            .unwrap_or_else(|| panic!("{}: the other calendar's series: {events:?}", server.name));
        assert_eq!(
            weekly.recurrence,
            vec!["RRULE:FREQ=WEEKLY;BYDAY=MO".to_owned()]
        );
        assert_eq!(weekly.title, "Weekly stand-up");
        assert!(weekly.synced_id.is_none());
        // Outside the window, neither shows.
        let later = provider()
            .list_events(
                &session,
                at(0) - chrono::Duration::days(400),
                at(0) - chrono::Duration::days(390),
            )
            .await
            .expect("list");
        assert!(
            later
                .iter()
                .all(|event| event.uid.as_deref() != Some(uid.as_str()))
        );
    }
}
