//! Command-line value parsers shared by several subcommands.

use crate::setup::StoreLocation;

/// The command-line parser of a [`StoreLocation`]: unlike clap's default,
/// its errors never repeat the value, which may be a URI with a password.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreLocationParser;

impl clap::builder::TypedValueParser for StoreLocationParser {
    type Value = StoreLocation;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StoreLocation, clap::Error> {
        let name = arg.map_or_else(|| "--store".to_owned(), ToString::to_string);
        let refuse = |reason: &str| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("{name}: {reason}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("must be valid UTF-8"))?;
        text.parse().map_err(|reason: String| refuse(&reason))
    }
}
