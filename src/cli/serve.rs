//! `calsync serve`: its settings (flags and environment), logging, and the
//! start-up and shutdown of the HTTP service ([`crate::http`]).
//!
//! A bad value stops start-up with a message naming the setting; so does a
//! service with no API key unless it is bound to loopback with
//! `--insecure-no-auth`.

mod consent;
mod google;

pub use consent::ConsentArgs;
pub use google::GoogleArgs;

use super::StoreLocationParser;
use crate::concept::Config;
use crate::http::{self, AppState, Auth, RateLimit};
use crate::setup::{DEFAULT_STORE, ProviderSet, Setup, StoreLocation};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// The settings of `calsync serve`.
#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "CALSYNC_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The store: a SQLite file path, or a mongodb:// or mongodb+srv:// URI
    /// (feature `mongodb`). The URI's password is never printed or logged.
    #[arg(
        long,
        env = "CALSYNC_STORE",
        hide_env_values = true,
        default_value = DEFAULT_STORE,
        value_parser = StoreLocationParser
    )]
    pub store: StoreLocation,
    /// The prefix of the store's collections.
    #[arg(long, env = "CALSYNC_PREFIX", default_value = crate::store::DEFAULT_PREFIX)]
    pub prefix: String,
    /// The MongoDB database (default: the one the URI names, else `calsync`).
    #[arg(long, env = "CALSYNC_DATABASE")]
    pub database: Option<String>,
    /// Where the master key file lives (default: the store file's directory);
    /// CALSYNC_MASTER_KEY, when set, is used instead of the file.
    #[arg(long, env = "CALSYNC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The provider adapters.
    #[arg(long, env = "CALSYNC_PROVIDERS", default_value = "sandbox", value_parser = parse_providers)]
    pub providers: ProviderSet,
    /// A file of API keys, one per line (added to those in CALSYNC_API_KEYS).
    #[arg(long, env = "CALSYNC_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Serve without API keys (allowed only on a loopback address).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// The largest request body accepted, in bytes (suffixes: KiB, MiB).
    #[arg(long, env = "CALSYNC_BODY_LIMIT", default_value = "1MiB", value_parser = parse_size)]
    pub body_limit: usize,
    /// How long a request may take (e.g. 30s, 500ms).
    #[arg(long, env = "CALSYNC_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Requests per second allowed per API key; 0 turns the limit off.
    #[arg(long, env = "CALSYNC_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Requests a key may send at once above its rate (default: one second's worth).
    #[arg(long, env = "CALSYNC_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// How logs are written.
    #[arg(long, env = "CALSYNC_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// How Google is reached (with `--providers live`).
    #[command(flatten)]
    pub google: GoogleArgs,
    /// Where consent flows send people back.
    #[command(flatten)]
    pub consent: ConsentArgs,
}

fn parse_providers(text: &str) -> Result<ProviderSet, String> {
    text.parse()
}

/// Parses a byte size: a number with an optional `KiB`, `MiB`, `KB` or `MB`.
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (like 1048576, 512KiB or 1MiB)"))?;
    let scale = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1024,
        "KB" | "kB" => 1000,
        "MiB" | "M" => 1024 * 1024,
        "MB" => 1_000_000,
        other => return Err(format!("unknown size unit {other:?}; use KiB or MiB")),
    };
    match number.checked_mul(scale) {
        Some(0) => Err("must be more than 0 bytes".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{text:?} is too large")),
    }
}

/// Parses a duration: a number with `ms`, `s` or `m` (seconds when bare).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (like 30s or 500ms)"))?;
    let duration = match unit.trim() {
        "ms" => Duration::from_millis(number),
        "" | "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        other => return Err(format!("unknown duration unit {other:?}; use ms, s or m")),
    };
    if duration.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    Ok(duration)
}

impl ServeArgs {
    /// The deployment these settings describe.
    pub fn setup(&self) -> Setup {
        Setup {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            database: self.database.clone(),
            data_dir: self.data_dir.clone(),
            providers: self.providers,
            google: self.google.config(),
            consent: self.consent.settings(),
            config: Config::default(),
        }
    }

    /// Who may call: the configured keys, or nobody's key when
    /// `--insecure-no-auth` on loopback.
    ///
    /// # Errors
    /// No key and no `--insecure-no-auth`, `--insecure-no-auth` off loopback,
    /// or a key file that cannot be read.
    pub fn auth(&self) -> Result<Auth, String> {
        let configured = Auth::from_env_and_file(self.api_keys_file.as_deref())?;
        match (configured, self.insecure_no_auth) {
            (Some(_), true) => Err(
                "--insecure-no-auth: API keys are configured too; drop one of the two".to_owned(),
            ),
            (Some(auth), false) => Ok(auth),
            (None, true) if self.bind.ip().is_loopback() => Ok(Auth::Open),
            (None, true) => Err(format!(
                "--insecure-no-auth: allowed only on a loopback address, not --bind {}",
                self.bind
            )),
            (None, false) => Err(format!(
                "no API key configured: set {} (comma-separated) or --api-keys-file, \
                 or serve on loopback with --insecure-no-auth",
                http::auth::API_KEYS_ENV
            )),
        }
    }

    /// The per-key rate limit, when one is set.
    ///
    /// # Errors
    /// A burst of 0 with a rate set.
    pub fn rate_limit(&self) -> Result<Option<RateLimit>, String> {
        let Some(rate) = NonZeroU32::new(self.rate_limit) else {
            return Ok(None);
        };
        let burst = match self.rate_burst {
            None => rate,
            Some(burst) => NonZeroU32::new(burst)
                .ok_or_else(|| "--rate-burst: must be at least 1".to_owned())?,
        };
        Ok(Some(RateLimit::new(rate, burst)))
    }
}

/// Why `calsync serve` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting is wrong.
    #[error("{0}")]
    Config(String),
    /// The deployment could not be built.
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    /// The address could not be bound or served.
    #[error("--bind {address}: {source}")]
    Io {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs the service until SIGTERM or SIGINT; requests in flight finish, and
/// provider operations still pending stay recorded and resume on the next start.
///
/// # Errors
/// A bad setting, a store or key that cannot be opened, or an address that
/// cannot be bound.
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let auth = args.auth().map_err(ServeError::Config)?;
    let rate_limit = args.rate_limit().map_err(ServeError::Config)?;
    if matches!(auth, Auth::Open) {
        eprintln!(
            "\n!!! WARNING: calsync is serving WITHOUT API KEYS (--insecure-no-auth) on {}.\n\
             !!! Anyone who can reach this address can act for every user. Never do this off this machine.\n",
            args.bind
        );
    }
    let opened = args.setup().open().await?;
    opened.sync.spawn_resumer(Duration::from_secs(5));
    let mut state = AppState::new(opened.sync.clone(), opened.sandbox, auth);
    state.rate_limit = rate_limit;
    state.body_limit = args.body_limit;
    state.request_timeout = args.request_timeout;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|source| ServeError::Io {
            address: args.bind,
            source,
        })?;
    let address = listener.local_addr().unwrap_or(args.bind);
    // The store's Display hides a MongoDB URI's credentials.
    tracing::info!(
        %address,
        store = %args.store,
        prefix = %args.prefix,
        database = args.database.as_deref().unwrap_or("(default)"),
        "calsync serving"
    );
    let upkeep = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Some(handle) = http::metrics::handle() {
                handle.run_upkeep();
            }
        }
    });
    let served = http::serve(listener, http::app(state), shutdown_signal()).await;
    upkeep.abort();
    tracing::info!("stopped taking requests; pending provider operations stay recorded");
    opened.sync.shutdown();
    served.map_err(|source| ServeError::Io { address, source })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Err(error) = installed {
        eprintln!("logging was already set up: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, String> {
        Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map(|cli| cli.serve)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(args.store, StoreLocation::Sqlite(DEFAULT_STORE.into()));
        assert_eq!(args.prefix, "CalendarSync.");
        assert_eq!(args.body_limit, 1024 * 1024);
        assert_eq!(args.request_timeout, Duration::from_secs(30));
        assert_eq!(args.providers, ProviderSet::Sandbox);
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (args, named) in [
            (&["--bind", "nowhere"][..], "--bind"),
            (&["--body-limit", "12 parsecs"], "--body-limit"),
            (&["--request-timeout", "0s"], "--request-timeout"),
            (&["--providers", "google"], "--providers"),
            (&["--store", "ftp://x"], "--store"),
        ] {
            let error = parse(args).unwrap_err();
            assert!(error.contains(named), "{args:?}: {error}");
        }
        let error = parse(&["--store", "mongo://calsync:hunter2@h/"]).unwrap_err();
        assert!(error.contains("--store"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn a_mongodb_store_and_database_are_settings() {
        let args = parse(&[
            "--store",
            "mongodb://calsync:hunter2@127.0.0.1:27017/?replicaSet=rs0",
            "--database",
            "cal_prod",
        ])
        .unwrap();
        let setup = args.setup();
        assert!(matches!(setup.store, StoreLocation::MongoDb(_)));
        assert_eq!(setup.database.as_deref(), Some("cal_prod"));
        assert!(!format!("{args:?}").contains("hunter2"));
        assert!(!args.store.to_string().contains("hunter2"));
    }

    #[test]
    fn no_key_refuses_unless_insecure_on_loopback() {
        let args = parse(&["--api-keys-file", "/nonexistent/keys"]).unwrap();
        assert!(args.auth().unwrap_err().contains("/nonexistent/keys"));
        let open = parse(&["--insecure-no-auth"]).unwrap();
        if std::env::var(http::auth::API_KEYS_ENV).is_err() {
            assert!(matches!(open.auth(), Ok(Auth::Open)));
            let public = parse(&["--insecure-no-auth", "--bind", "0.0.0.0:8080"]).unwrap();
            assert!(public.auth().unwrap_err().contains("loopback"));
            let none = parse(&[]).unwrap();
            assert!(none.auth().unwrap_err().contains("no API key"));
        }
    }

    #[test]
    fn sizes_and_durations_parse() {
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert!(parse_size("0").is_err());
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
    }
}
