//! The store conformance suite, instantiated for each backend.

#[cfg(feature = "mongodb")]
mod mongodb;
mod sqlite;
