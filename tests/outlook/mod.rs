//! The Outlook adapter against a local, wire-faithful Microsoft Graph and
//! identity platform server (`server`): the adapter call by call
//! (`adapter`), the consent flow calsync runs (`consent`), the actions
//! through `CalendarSync` on the SQLite store with an `outlook` account
//! (`actions`), refresh-token rotation and a lost store write (`rotation`),
//! and the deployment settings (`settings`).

mod actions;
mod adapter;
mod consent;
mod rotation;
pub mod server;
mod settings;
pub(crate) mod support;
