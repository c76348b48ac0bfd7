//! The concept's actions, guided by the spec's principle, on every store
//! backend (credentials at rest are checked on the embedded file only).

mod support;

mod accounts;
mod commit;
mod conflicts;
mod principle;
mod recovery;
mod secrets;
mod shared_store;
mod update_cancel;
