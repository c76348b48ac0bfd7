//! # calsync
//!
//! A calendar-sync engine for scheduling apps: it commits one event to every
//! chosen Google, Outlook, Apple (CalDAV) and Zoom account at once, remembers
//! each provider's own event id, propagates updates and cancellations,
//! detects conflicts across accounts before booking, and proposes ranked
//! reschedules. It implements the CalendarSync concept.
//!
//! ## Layout
//! Layers, lowest first; a module imports only from its own layer or lower
//! ones.
//!
//! | layer | module | what lives there |
//! |---|---|---|
//! | base | [`clock`], `private_fs` | where "now" comes from; files only the service's user may read |
//! | model | [`model`] | the state's types and the JSON wire format |
//! | schedule | [`schedule`] | pure scheduling: recurrence, busy time, conflicts, suggestions |
//! | edges | [`store`], [`providers`], `oauth`, [`operations`], [`vault`] | the store trait and its backends; the provider trait, its error kinds and the adapters; OAuth 2.0 refresh, revoke and consent shared by the OAuth providers (feature `oauth`, on with `google` and `outlook`); durable intent (operations, the retry policy); sealing credentials |
//! | errors | [`error`] | the one error type every action answers, over the edges' errors |
//! | engine | [`engine`] | carrying out operations: the one door into providers, sessions and token refresh, per-account order, outcomes, leases and resume |
//! | concept | [`concept`] | [`CalendarSync`]: the ten actions |
//! | deployment | [`setup`], `http`, `cli` | building a [`CalendarSync`] from settings; the HTTP service (`calsync serve`; feature `server`); the `calsync` command's subcommands (feature `cli`) |
//!
//! ## Glossary
//! - **account**: a user's connection to one provider account (one user each).
//! - **synced event**: an event calsync wrote to one or more accounts, with
//!   each provider's own id for it.
//! - **provider event**: the copy of an event on one provider.
//! - **draft**: an event not yet committed, checked for conflicts.
//! - **conflict**: an existing occurrence that overlaps a draft, sits in its
//!   buffer, or double-books it.
//! - **suggestion**: an alternative time for a draft, with its score and why.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
pub mod concept;
pub mod engine;
pub mod error;
#[cfg(feature = "server")]
pub mod http;
pub mod model;
#[cfg(feature = "oauth")]
pub mod oauth;
pub mod operations;
mod private_fs;
pub mod providers;
pub mod schedule;
pub mod setup;
pub mod store;
pub mod vault;

pub use concept::{CalendarSync, Config};
pub use error::{Error, Result};
