//! The Google adapter against a local, wire-faithful Google server
//! (`server`): the adapter call by call (`adapter`), and the actions through
//! `CalendarSync` on the SQLite store with a `google` account (`actions`).

mod actions;
mod adapter;
mod oauth;
pub mod server;
mod support;
