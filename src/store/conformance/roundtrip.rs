//! Everything the store accepts reads back as written: synced events and
//! operations made of seeded random values, at the edges of what calsync
//! validates (the first and last instants of the range, millisecond times,
//! text with quotes, dots, dollars, percent signs, NULs, control characters
//! and characters outside the basic plane).

use super::{StoreMaker, fresh};
use crate::model::{
    AccountId, Attendee, EventDetails, EventId, EventTime, OperationId, Provider, ProviderEventRef,
    SyncedEvent, Transparency, UserId,
};
use crate::operations::{Operation, OperationKind, OperationStatus};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How many random events (and operations) each backend stores and reads back.
const CASES: usize = 120;

const PIECES: &[&str] = &[
    "a", "Z", "0", " ", ".", "$", "%", "%2E", "\"", "'", "\\", "/", "\0", "\t", "\n", "\u{7f}",
    "\u{202e}", "é", "ß", "日本", "🗓", "{", "}", "[", "]", ":", ",", "--", "null",
];

fn text(rng: &mut StdRng, max: usize) -> String {
    let length = rng.random_range(1..=max);
    (0..length)
        .map(|_| PIECES[rng.random_range(0..PIECES.len())])
        .collect()
}

fn maybe_text(rng: &mut StdRng, max: usize) -> Option<String> {
    rng.random_bool(0.5).then(|| text(rng, max))
}

/// An instant within the validated range, to the millisecond.
fn instant(rng: &mut StdRng) -> DateTime<Utc> {
    let first = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).single();
    let last = Utc.with_ymd_and_hms(3000, 1, 1, 0, 0, 0).single();
    let (Some(first), Some(last)) = (first, last) else {
        return DateTime::<Utc>::UNIX_EPOCH;
    };
    match rng.random_range(0..4) {
        0 => first,
        1 => last - chrono::Duration::hours(1),
        _ => {
            let span = (last - first).num_milliseconds() - 3_600_000;
            first + chrono::Duration::milliseconds(rng.random_range(0..span))
        }
    }
}

fn details(rng: &mut StdRng) -> EventDetails {
    let all_day = rng.random_bool(0.3);
    let (start, end) = if all_day {
        let first = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default();
        let day = first + chrono::Days::new(rng.random_range(0..365_000));
        (
            EventTime::Date(day),
            EventTime::Date(day + chrono::Days::new(rng.random_range(1..40))),
        )
    } else {
        let start = instant(rng);
        let end = start + chrono::Duration::milliseconds(rng.random_range(1..3_600_000));
        (EventTime::Instant(start), EventTime::Instant(end))
    };
    EventDetails {
        title: text(rng, 40),
        start,
        end,
        time_zone: rng.random_bool(0.5).then(|| {
            ["Europe/Berlin", "America/St_Johns", "Pacific/Kiritimati"][rng.random_range(0..3)]
                .to_owned()
        }),
        all_day,
        location: maybe_text(rng, 20),
        description: maybe_text(rng, 200),
        attendees: (0..rng.random_range(0..4))
            .map(|n| Attendee {
                email: format!("{}{n}@example.com", text(rng, 3)),
                optional: rng.random_bool(0.5),
            })
            .collect(),
        recurrence: (0..rng.random_range(0..3))
            .map(|_| format!("RRULE:FREQ=WEEKLY;COUNT={}", rng.random_range(1..500)))
            .collect(),
        transparency: if rng.random_bool(0.5) {
            Transparency::Busy
        } else {
            Transparency::Free
        },
        virtual_meeting: rng.random_bool(0.2),
    }
}

fn reference(rng: &mut StdRng) -> ProviderEventRef {
    let providers = [
        Provider::Google,
        Provider::Outlook,
        Provider::Apple,
        Provider::Zoom,
    ];
    ProviderEventRef {
        provider: providers[rng.random_range(0..providers.len())],
        event_id: text(rng, 30),
        etag: maybe_text(rng, 10),
        calendar_id: maybe_text(rng, 20),
        join_url: maybe_text(rng, 20),
        version: rng.random_range(1..1_000_000_000_000),
        pending: None,
    }
}

/// Synced events attached account by account read back equal to what was
/// written: every field, every account key, every reference.
pub async fn stored_events_read_back_as_written(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let mut rng = StdRng::seed_from_u64(0x5EED_CA15);
    for case in 0..CASES {
        let accounts: Vec<(AccountId, ProviderEventRef)> = (0..rng.random_range(1..4))
            .map(|n| {
                (
                    AccountId::from(format!("{}-{n}", text(&mut rng, 8)).as_str()),
                    reference(&mut rng),
                )
            })
            .collect();
        let at = instant(&mut rng);
        let expected = SyncedEvent {
            internal_id: EventId::from(format!("event-{case}-{}", text(&mut rng, 6)).as_str()),
            user: UserId::from(text(&mut rng, 10).as_str()),
            accounts: accounts
                .iter()
                .map(|(account, _)| account.clone())
                .collect(),
            provider_ids: accounts.iter().cloned().collect(),
            synced_at: at,
            event: details(&mut rng),
            version: rng.random_range(1..1_000_000_000_000),
        };
        for (account, reference) in &accounts {
            store
                .attach_provider_event(&expected, account, reference, at)
                .await
                .expect("attach");
        }
        let read = store
            .get_synced_event(&expected.internal_id)
            .await
            .expect("read");
        assert_eq!(read.as_ref(), Some(&expected), "case {case}");
        let of_user = store
            .synced_events_of_user(&expected.user)
            .await
            .expect("read");
        assert!(of_user.contains(&expected), "case {case}: {of_user:?}");
    }
}

/// Operations with random details, keys and results read back equal.
pub async fn stored_operations_read_back_as_written(maker: &dyn StoreMaker) {
    let (store, _) = fresh(maker).await;
    let mut rng = StdRng::seed_from_u64(0x0BE5_CA15);
    let kinds = [
        OperationKind::Create,
        OperationKind::Update,
        OperationKind::Delete,
        OperationKind::Sweep,
    ];
    let statuses = [
        OperationStatus::Pending,
        OperationStatus::Succeeded,
        OperationStatus::Failed,
        OperationStatus::Superseded,
    ];
    for case in 0..CASES {
        let at = instant(&mut rng);
        let operation = Operation {
            id: OperationId::fresh(),
            user: UserId::from(text(&mut rng, 10).as_str()),
            event: EventId::from(text(&mut rng, 10).as_str()),
            account: AccountId::from(text(&mut rng, 10).as_str()),
            provider: Provider::Google,
            kind: kinds[rng.random_range(0..kinds.len())],
            idempotency_key: text(&mut rng, 20),
            details: details(&mut rng),
            version: rng.random_range(0..1_000_000_000_000),
            uncertain: rng.random_bool(0.5),
            taken_up: false,
            invites: rng.random_bool(0.5),
            changed_fields: (0..rng.random_range(0..3))
                .map(|_| text(&mut rng, 8))
                .collect(),
            target: rng.random_bool(0.5).then(|| reference(&mut rng)),
            status: statuses[rng.random_range(0..statuses.len())],
            attempts: rng.random_range(0..100),
            next_attempt_at: instant(&mut rng),
            last_error: maybe_text(&mut rng, 50),
            lease_owner: maybe_text(&mut rng, 10),
            lease_until: rng.random_bool(0.5).then(|| instant(&mut rng)),
            result: rng.random_bool(0.5).then(|| reference(&mut rng)),
            created_at: at,
            updated_at: at,
        };
        store
            .insert_operations(std::slice::from_ref(&operation))
            .await
            .expect("insert");
        let read = store.get_operation(&operation.id).await.expect("read");
        assert_eq!(read.as_ref(), Some(&operation), "case {case}");
    }
}
