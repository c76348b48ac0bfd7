//! The HTTP service over a real socket: a server on a loopback port 0, a
//! real HTTP client.
//! - `support`: starting a server and calling it;
//! - `principle`: the operational principle end to end;
//! - `routes`: every action routed and in the OpenAPI document;
//! - `errors`: each error shape and status;
//! - `auth`: API keys, rate limits, open health routes;
//! - `connections`: header-read and idle timeouts, the connection cap, early
//!   413 and the error shape of the HTTP layer's own answers, over raw TCP;
//! - `consent`: startConnect and the OAuth callback route on the sandbox;
//! - `limits`: body limit, request timeout, metrics;
//! - `concurrency`: 100 concurrent commits, no duplicate on any provider;
//! - `idempotency`: `Idempotency-Key` on commit, update and cancel;
//! - `store_down`: a MongoDB store that stops and returns (feature `mongodb`);
//! - `sandbox`: users kept apart on the sandbox, whatever tokens they send;
//! - `work`: work per request bounded, off the serving threads, stopped with its request.

mod auth;
mod concurrency;
mod connections;
mod consent;
mod erase;
mod errors;
mod fuzz;
mod idempotency;
mod limits;
mod principle;
mod routes;
mod sandbox;
#[cfg(feature = "mongodb")]
mod store_down;
pub mod support;
mod work;
