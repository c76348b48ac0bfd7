//! The store conformance suite, instantiated for each backend.

#[cfg(feature = "mongodb")]
pub mod mongodb;
mod sqlite;
