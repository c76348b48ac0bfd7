//! listCalendars and the calendars detectConflicts reads, with an `apple`
//! account on each real server: every event calendar of the home unless the
//! app names them in `conflict_calendars`, which connect checks.

use super::support::{Server, calendar_sync, servers};
use crate::patience::patient;
use calsync::Error;
use calsync::model::{ConflictReport, DraftEvent, UserId};
use calsync::providers::{CalendarInfo, Credentials};
use serde_json::json;

/// New calendars in the user's home, as (name, URL), and the home's URL.
async fn new_calendars(server: &Server, count: usize) -> (String, Vec<(String, String)>) {
    let home = server.home().await;
    let mut made = Vec::new();
    for _ in 0..count {
        let name = server.new_calendar().await;
        let url = format!("{home}{name}/");
        made.push((name, url));
    }
    (home, made)
}

/// Another client's event in `calendar` (a URL), 9:00 to 10:00 UTC on the
/// draft's day, stored with a plain PUT; answers its UID.
async fn put_busy(server: &Server, calendar: &str, title: &str) -> String {
    let uid = format!("busy-{}", uuid::Uuid::new_v4().simple());
    let body = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other//EN\r\nBEGIN:VEVENT\r\n\
         UID:{uid}\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300304T090000Z\r\n\
         DTEND:20300304T100000Z\r\nSUMMARY:{title}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let (status, _, text) = server
        .raw(
            "PUT",
            &format!("{calendar}{uid}.ics"),
            &[("Content-Type", "text/calendar")],
            Some(body),
        )
        .await;
    assert!((200..300).contains(&status), "PUT {status}: {text}");
    uid
}

fn draft() -> DraftEvent {
    serde_json::from_value(json!({
        "id": "draft-1", "title": "Planning",
        "start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z",
    }))
    .expect("draft")
}

/// Whether the report holds the event of `uid` as a conflict.
fn conflicts_with(report: &ConflictReport, uid: &str) -> bool {
    report
        .conflicts
        .iter()
        .flat_map(|conflict| conflict.existing_events.iter())
        .any(|existing| existing.uid.as_deref() == Some(uid))
}

/// The listed calendar whose id is `url`, as (name, target, checked).
fn listed(calendars: &[CalendarInfo], url: &str) -> (Option<String>, bool, bool) {
    let calendar = calendars
        .iter()
        .find(|calendar| calendar.id == url)
        .unwrap_or_else(|| panic!("{url} is not listed: {calendars:?}"));
    (
        calendar.name.clone(),
        calendar.target,
        calendar.checked_for_conflicts,
    )
}

/// Credentials writing to the calendar `target` (a name) and reading
/// `chosen` for conflicts.
fn choosing(server: &Server, target: &str, chosen: serde_json::Value) -> Credentials {
    let mut credentials = server.credentials(Some(target));
    credentials.0.insert("conflict_calendars".into(), chosen);
    credentials
}

#[tokio::test]
async fn every_event_calendar_of_the_home_is_read_for_conflicts_by_default() {
    for server in servers("every_event_calendar_of_the_home_is_read_for_conflicts_by_default") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let user = UserId::from(format!("ada-{}", server.name));
        let (_, made) = new_calendars(&server, 2).await;
        let [(target, target_url), (other, other_url)] = &made[..] else {
            unreachable!("two calendars were made")
        };
        let dentist = put_busy(&server, other_url, "Dentist").await;
        let account = sync
            .connect_account(&user, "apple", &server.credentials(Some(target)))
            .await
            .expect("connect apple");
        assert_eq!(account.calendar_id.as_deref(), Some(target_url.as_str()));

        let report = sync
            .detect_conflicts(&user, &draft())
            .await
            .expect("detect");
        assert!(report.unknown_accounts.is_empty(), "{report:?}");
        assert!(
            conflicts_with(&report, &dentist),
            "{}: {report:?}",
            server.name
        );

        let calendars = sync
            .list_calendars(&user, &account.id)
            .await
            .expect("list calendars");
        assert_eq!(
            listed(&calendars, target_url),
            (Some(target.clone()), true, true)
        );
        assert_eq!(
            listed(&calendars, other_url),
            (Some(other.clone()), false, true)
        );
        assert!(
            calendars
                .iter()
                .all(|calendar| calendar.checked_for_conflicts),
            "{calendars:?}"
        );
        assert_eq!(
            calendars.iter().filter(|calendar| calendar.target).count(),
            1
        );
        sync.shutdown();
    }
}

#[tokio::test]
async fn conflict_calendars_naming_only_the_target_leaves_the_others_unread() {
    for server in servers("conflict_calendars_naming_only_the_target_leaves_the_others_unread") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let user = UserId::from(format!("ada-{}", server.name));
        let (_, made) = new_calendars(&server, 2).await;
        let [(target, target_url), (_, other_url)] = &made[..] else {
            unreachable!("two calendars were made")
        };
        let ours = put_busy(&server, target_url, "Ours").await;
        let dentist = put_busy(&server, other_url, "Dentist").await;
        // The target named by its path on the server.
        let path = url::Url::parse(target_url)
            .expect("a URL")
            .path()
            .to_owned();
        let account = sync
            .connect_account(&user, "apple", &choosing(&server, target, json!([path])))
            .await
            .expect("connect apple");

        let report = sync
            .detect_conflicts(&user, &draft())
            .await
            .expect("detect");
        assert!(report.unknown_accounts.is_empty(), "{report:?}");
        assert!(
            conflicts_with(&report, &ours),
            "{}: {report:?}",
            server.name
        );
        assert!(
            !conflicts_with(&report, &dentist),
            "{}: the other calendar is not read: {report:?}",
            server.name
        );

        let calendars = sync
            .list_calendars(&user, &account.id)
            .await
            .expect("list calendars");
        let flags = |url: &str| {
            let (_, target, checked) = listed(&calendars, url);
            (target, checked)
        };
        assert_eq!(flags(target_url), (true, true));
        assert_eq!(flags(other_url), (false, false));
        assert_eq!(
            calendars
                .iter()
                .filter(|calendar| calendar.checked_for_conflicts)
                .count(),
            1,
            "{calendars:?}"
        );
        sync.shutdown();
    }
}

#[tokio::test]
async fn conflict_calendars_may_name_other_calendars_by_url() {
    for server in servers("conflict_calendars_may_name_other_calendars_by_url") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let user = UserId::from(format!("ada-{}", server.name));
        let (_, made) = new_calendars(&server, 3).await;
        let [(target, target_url), (_, other_url), (_, third_url)] = &made[..] else {
            unreachable!("three calendars were made")
        };
        let dentist = put_busy(&server, other_url, "Dentist").await;
        let gym = put_busy(&server, third_url, "Gym").await;
        // The closing slash of a collection may be left out.
        let chosen = json!([other_url.trim_end_matches('/')]);
        let account = sync
            .connect_account(&user, "apple", &choosing(&server, target, chosen))
            .await
            .expect("connect apple");

        let report = sync
            .detect_conflicts(&user, &draft())
            .await
            .expect("detect");
        assert!(report.unknown_accounts.is_empty(), "{report:?}");
        assert!(
            conflicts_with(&report, &dentist),
            "{}: {report:?}",
            server.name
        );
        assert!(
            !conflicts_with(&report, &gym),
            "{}: {report:?}",
            server.name
        );

        let calendars = sync
            .list_calendars(&user, &account.id)
            .await
            .expect("list calendars");
        let flags = |url: &str| {
            let (_, target, checked) = listed(&calendars, url);
            (target, checked)
        };
        assert_eq!(flags(target_url), (true, true));
        assert_eq!(flags(other_url), (false, true));
        assert_eq!(flags(third_url), (false, false));
        sync.shutdown();
    }
}

#[tokio::test]
async fn a_named_calendar_that_is_gone_makes_the_account_unknown_never_free() {
    for server in servers("a_named_calendar_that_is_gone_makes_the_account_unknown_never_free") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let user = UserId::from(format!("ada-{}", server.name));
        let (_, made) = new_calendars(&server, 2).await;
        let [(target, _), (_, other_url)] = &made[..] else {
            unreachable!("two calendars were made")
        };
        let account = sync
            .connect_account(
                &user,
                "apple",
                &choosing(&server, target, json!([other_url])),
            )
            .await
            .expect("connect apple");
        let (status, _, text) = server.raw("DELETE", other_url, &[], None).await;
        assert!((200..300).contains(&status), "DELETE {status}: {text}");

        let report = sync
            .detect_conflicts(&user, &draft())
            .await
            .expect("detect");
        let unknown: Vec<_> = report.unknown_accounts.iter().map(|u| &u.account).collect();
        assert_eq!(unknown, [&account.id], "{}: {report:?}", server.name);
        let calendars = sync
            .list_calendars(&user, &account.id)
            .await
            .expect("list calendars");
        assert_eq!(listed(&calendars, other_url), (None, false, true));
        sync.shutdown();
    }
}

#[tokio::test]
async fn conflict_calendars_naming_a_calendar_the_account_lacks_is_refused_at_connect() {
    for server in
        servers("conflict_calendars_naming_a_calendar_the_account_lacks_is_refused_at_connect")
    {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let user = UserId::from(format!("ada-{}", server.name));
        let (home, made) = new_calendars(&server, 1).await;
        let [(target, target_url)] = &made[..] else {
            unreachable!("one calendar was made")
        };
        let missing = format!("{home}no-such-{}/", uuid::Uuid::new_v4().simple());
        for (chosen, named) in [
            (json!([target_url, missing]), missing.as_str()),
            (json!(target_url), "array"),
        ] {
            let refused = sync
                .connect_account(&user, "apple", &choosing(&server, target, chosen))
                .await;
            match refused {
                Err(Error::InvalidCredentials { reason, .. }) => {
                    assert!(reason.starts_with("conflict_calendars:"), "{reason}");
                    assert!(reason.contains(named), "{reason}");
                }
                other => panic!("{}: {named}: {other:?}", server.name),
            }
        }
        assert!(
            sync.store()
                .accounts_of_user(&user)
                .await
                .expect("read")
                .is_empty(),
            "nothing is stored"
        );
        sync.shutdown();
    }
}

#[tokio::test]
async fn the_ids_list_calendars_answers_name_the_target_at_connect() {
    for server in servers("the_ids_list_calendars_answers_name_the_target_at_connect") {
        let dir = tempfile::tempdir().expect("temp dir");
        let sync = calendar_sync(dir.path(), patient()).await;
        let (_, made) = new_calendars(&server, 2).await;
        let [(target, _), (_, other_url)] = &made[..] else {
            unreachable!("two calendars were made")
        };
        let ada = UserId::from(format!("ada-{}", server.name));
        let first = sync
            .connect_account(&ada, "apple", &server.credentials(Some(target)))
            .await
            .expect("connect apple");
        let calendars = sync
            .list_calendars(&ada, &first.id)
            .await
            .expect("list calendars");
        let id = &calendars
            .iter()
            .find(|calendar| &calendar.id == other_url)
            .unwrap_or_else(|| panic!("{other_url} is listed: {calendars:?}"))
            .id;
        let path = url::Url::parse(id).expect("a URL").path().to_owned();
        for (user, calendar) in [("bea", id.as_str()), ("cy", path.as_str())] {
            let user = UserId::from(format!("{user}-{}", server.name));
            let account = sync
                .connect_account(&user, "apple", &server.credentials(Some(calendar)))
                .await
                .expect("connect by id");
            assert_eq!(account.calendar_id.as_deref(), Some(other_url.as_str()));
        }
        let missing = format!("{}-gone/", other_url.trim_end_matches('/'));
        let refused = sync
            .connect_account(&ada, "apple", &server.credentials(Some(&missing)))
            .await;
        assert!(
            matches!(&refused, Err(Error::InvalidCredentials { reason, .. }) if reason.contains(&missing)),
            "{refused:?}"
        );
        sync.shutdown();
    }
}
