//! The concept's actions, guided by the spec's principle, on every store
//! backend (credentials at rest are checked on the embedded file only), and
//! update and cancel issued while a create is still pending.

mod support;

mod accounts;
mod commit;
mod conflicts;
mod convergence;
mod meetings;
mod pending;
mod principle;
mod provider_calls;
mod recovery;
mod secrets;
mod shared_store;
mod update_cancel;
