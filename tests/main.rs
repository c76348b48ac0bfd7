//! calsync's integration tests, in one binary. Modules:
//! - `store`: the store conformance suite on every backend.

mod store;
