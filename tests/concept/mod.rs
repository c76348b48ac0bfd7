//! The concept's actions, guided by the spec's principle.

mod support;

mod accounts;
mod commit;
mod conflicts;
mod principle;
mod recovery;
mod secrets;
mod update_cancel;
