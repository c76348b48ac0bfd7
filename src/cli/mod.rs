//! The command line's commands; the binary `calsync` only dispatches.

pub mod demo;
