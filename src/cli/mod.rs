//! The `calsync` command line: one module per group of subcommands, each
//! exposing clap argument structs and run functions the binary dispatches to.

pub mod account;
pub mod demo;
pub mod engine;
pub mod import;
