//! Meetings: creates that never duplicate, moves that keep the join link,
//! deletes that count "already gone" as done.

use super::wire::{self, Meeting, MeetingPage};
use super::{Caller, ZoomProvider};
use crate::model::{EventDetails, Provider, ProviderEventRef};
use crate::providers::{
    MeetingProvider, ProviderError, ProviderErrorKind, ProviderResult, Session, WriteContext,
};
use async_trait::async_trait;
use reqwest::Method;

/// The most meetings one page of a listing holds.
const PAGE_SIZE: &str = "300";

fn meeting_ref(id: String, join_url: Option<String>) -> ProviderEventRef {
    ProviderEventRef {
        provider: Provider::Zoom,
        event_id: id,
        etag: None,
        calendar_id: None,
        join_url,
        // The engine sets the version it wrote.
        version: crate::model::FIRST_VERSION,
        pending: None,
    }
}

impl ZoomProvider {
    /// The upcoming meeting of `caller`'s user whose agenda carries `key`'s
    /// marker, reading every page until `next_page_token` is empty.
    async fn find_marked(
        &self,
        caller: &Caller,
        key: &str,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        let mut page_token: Option<String> = None;
        let mut seen_tokens = std::collections::HashSet::new();
        loop {
            let mut query = vec![("type", "upcoming"), ("page_size", PAGE_SIZE)];
            if let Some(token) = &page_token {
                query.push(("next_page_token", token.as_str()));
            }
            let answer = self
                .call(
                    caller,
                    Method::GET,
                    &["users", &caller.user, "meetings"],
                    &query,
                    None,
                )
                .await?;
            if !answer.ok() {
                return Err(self.failure("list the upcoming meetings", &answer));
            }
            let page: MeetingPage = answer.json("meetings.list")?;
            if let Some(found) = page
                .meetings
                .into_iter()
                .find(|meeting| wire::has_marker(meeting.agenda.as_deref(), key))
            {
                return Ok(Some(meeting_ref(found.id.text(), found.join_url)));
            }
            match page.next_page_token.filter(|token| !token.is_empty()) {
                Some(next) if seen_tokens.insert(next.clone()) => page_token = Some(next),
                Some(repeated) => {
                    return Err(ProviderError::new(
                        ProviderErrorKind::Unavailable,
                        format!(
                            "Zoom repeated the page token {repeated:?} while listing meetings; the listing is incomplete"
                        ),
                    ));
                }
                None => return Ok(None),
            }
        }
    }

    /// The join link of meeting `id` (`GET /meetings/{id}`).
    async fn join_url_of(&self, caller: &Caller, id: &str) -> ProviderResult<Option<String>> {
        let answer = self
            .call(caller, Method::GET, &["meetings", id], &[], None)
            .await?;
        if !answer.ok() {
            return Err(self.failure("read the meeting", &answer));
        }
        Ok(answer.json::<Meeting>("meetings.get")?.join_url)
    }
}

#[async_trait]
impl MeetingProvider for ZoomProvider {
    async fn create_meeting(
        &self,
        session: &Session,
        event: &EventDetails,
        context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let caller = self.caller(&session.credentials)?;
        let key = context.idempotency_key.as_str();
        // Zoom has no idempotency key: a create tried before (its answer
        // lost, or its process stopped mid-call) may have made the meeting.
        if context.retry || self.allowance.was_attempted(&caller.counted, key).await? {
            if let Some(found) = self.find_marked(&caller, key).await? {
                return Ok(found);
            }
        }
        self.allowance.spend(&caller.counted, Some(key)).await?;
        let body = wire::create_body(event, key);
        let answer = self
            .call(
                &caller,
                Method::POST,
                &["users", &caller.user, "meetings"],
                &[],
                Some(&body),
            )
            .await?;
        if !answer.ok() {
            return Err(self.failure("create the meeting", &answer));
        }
        let created: Meeting = answer.json("meetings.create")?;
        if created.join_url.is_none() {
            return Err(ProviderError::new(
                ProviderErrorKind::Unavailable,
                format!(
                    "Zoom created meeting {} without a join_url",
                    created.id.text()
                ),
            ));
        }
        Ok(meeting_ref(created.id.text(), created.join_url))
    }

    async fn find_meeting(
        &self,
        session: &Session,
        context: &WriteContext,
    ) -> ProviderResult<Option<ProviderEventRef>> {
        let caller = self.caller(&session.credentials)?;
        self.find_marked(&caller, &context.idempotency_key).await
    }

    async fn update_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        event: &EventDetails,
        _changed: &[String],
        _context: &WriteContext,
    ) -> ProviderResult<ProviderEventRef> {
        let caller = self.caller(&session.credentials)?;
        self.allowance.spend(&caller.counted, None).await?;
        // The topic and the whole time go together: Zoom recomputes the
        // end from `start_time` and `duration`, so both are always sent.
        let body = wire::update_body(event);
        let answer = self
            .call(
                &caller,
                Method::PATCH,
                &["meetings", &target.event_id],
                &[],
                Some(&body),
            )
            .await?;
        if !answer.ok() {
            return Err(self.failure("update the meeting", &answer));
        }
        let join_url = match &target.join_url {
            Some(url) => Some(url.clone()),
            // PATCH answers 204 without a body; the link is read only when
            // calsync does not hold it.
            None => self.join_url_of(&caller, &target.event_id).await?,
        };
        let mut updated = target.clone();
        updated.join_url = join_url;
        Ok(updated)
    }

    async fn delete_meeting(
        &self,
        session: &Session,
        target: &ProviderEventRef,
        _context: &WriteContext,
    ) -> ProviderResult<()> {
        let caller = self.caller(&session.credentials)?;
        let answer = self
            .call(
                &caller,
                Method::DELETE,
                &["meetings", &target.event_id],
                &[],
                None,
            )
            .await?;
        match answer.status.as_u16() {
            200..=299 => Ok(()),
            // 404 code 3001 "Meeting does not exist": already gone.
            404 if answer.code().is_none_or(|code| code == 3001) => Ok(()),
            _ => Err(self.failure("delete the meeting", &answer)),
        }
    }
}
