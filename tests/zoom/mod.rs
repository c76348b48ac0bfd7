//! The Zoom adapter against a local, wire-faithful Zoom server (`server`):
//! meetings call by call (`adapter`), the user-level OAuth app (`oauth`),
//! the Server-to-Server app's one token per deployment (`s2s`), rate and
//! daily limits (`limits`), and a commit with a meeting through
//! `CalendarSync` on the SQLite store (`actions`), and the operational
//! principle with a meeting on the Google, Graph and Zoom servers together
//! (`principle`).

mod actions;
mod adapter;
mod limits;
mod oauth;
#[cfg(all(feature = "google", feature = "outlook"))]
mod principle;
mod s2s;
pub mod server;
mod support;
