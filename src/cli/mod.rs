//! The `calsync` command line: one module per group of subcommands, each
//! exposing clap argument structs and run functions the binary dispatches to.
//!
//! Built with the cargo feature `cli` (on by default); a library that embeds
//! calsync turns default features off and compiles no argument parser,
//! progress bars or log output. [`serve`] needs the feature `server` too.

pub mod account;
pub mod demo;
pub mod import;
mod parsers;
pub mod scheduling;
#[cfg(feature = "server")]
pub mod serve;

pub use parsers::StoreLocationParser;
