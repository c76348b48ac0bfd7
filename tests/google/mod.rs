//! The Google adapter against a local, wire-faithful Google server
//! (`server`): the OAuth machinery (`oauth`), the adapter call by call
//! (`adapter`), the consent flow calsync runs (`consent`), the actions through `CalendarSync` on the SQLite store with
//! a `google` account (`actions`), and the deployment settings (`settings`).

mod actions;
mod adapter;
mod consent;
mod oauth;
mod ready;
pub mod server;
mod settings;
pub(crate) mod support;
