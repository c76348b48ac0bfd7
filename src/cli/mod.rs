//! The `calsync` command line: one module per group of subcommands, each
//! exposing clap argument structs and run functions the binary dispatches to.

pub mod demo;
pub mod engine;
