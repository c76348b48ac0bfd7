//! `calsync serve`: its settings (flags and environment), logging, and the
//! start-up and shutdown of the HTTP service ([`crate::http`]).
//!
//! A bad value stops start-up with a message naming the setting; so does a
//! service with no API key unless it is bound to loopback with
//! `--insecure-no-auth`.

mod connections;
mod consent;
mod google;
mod outlook;
mod zoom;

pub use connections::ConnectionArgs;
pub use consent::ConsentArgs;
pub use google::GoogleArgs;
pub use outlook::OutlookArgs;
pub use zoom::ZoomArgs;

use super::StoreLocationParser;
use crate::concept::Config;
use crate::http::{self, AppState, Auth, RateLimit};
use crate::operations::RetryPolicy;
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
    /// How long after its answer deadline an Idempotency-Key's first call
    /// that has not finished is taken for stopped (its process ended), so
    /// that a retry takes it over.
    #[arg(long, env = "CALSYNC_IDEMPOTENCY_GRACE", default_value = "60s", value_parser = parse_duration)]
    pub idempotency_grace: Duration,
    /// Requests per second allowed per API key; 0 turns the limit off.
    #[arg(long, env = "CALSYNC_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Requests a key may send at once above its rate (default: one second's worth).
    #[arg(long, env = "CALSYNC_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// How logs are written.
    #[arg(long, env = "CALSYNC_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// How connections are served: timeouts, cap and header limit.
    #[command(flatten)]
    pub connections: ConnectionArgs,
    /// How Google is reached (with `--providers live`).
    #[command(flatten)]
    pub google: GoogleArgs,
    /// How Microsoft Graph is reached (with `--providers live`).
    #[command(flatten)]
    pub outlook: OutlookArgs,
    /// How Zoom is reached (with `--providers live`).
    #[command(flatten)]
    pub zoom: ZoomArgs,
    /// Where consent flows send people back.
    #[command(flatten)]
    pub consent: ConsentArgs,
    /// How the engine calls providers and retries them.
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The engine's waits: provider calls, retries, leases and resumes. The
/// defaults are [`Config::default`]'s and suit production; tests that kill
/// and restart the service shorten them.
#[derive(Clone, Debug, Args)]
pub struct EngineArgs {
    /// How long one provider call may take before it counts as a timeout (a
    /// transient failure, retried).
    #[arg(long, env = "CALSYNC_CALL_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub call_timeout: Duration,
    /// How long commit, update and cancel wait for providers before answering
    /// with what is still pending (which goes on in the background).
    #[arg(long, env = "CALSYNC_ANSWER_WITHIN", default_value = "10s", value_parser = parse_duration)]
    pub answer_within: Duration,
    /// Attempts in one round of retries of a transient failure, the first included.
    #[arg(long, env = "CALSYNC_RETRY_ATTEMPTS", default_value_t = 6)]
    pub retry_attempts: u32,
    /// The ceiling of the first backoff; each further one doubles it.
    #[arg(long, env = "CALSYNC_RETRY_BASE", default_value = "1s", value_parser = parse_duration)]
    pub retry_base: Duration,
    /// The longest backoff between two attempts (a Retry-After may ask for more).
    #[arg(long, env = "CALSYNC_RETRY_CAP", default_value = "32s", value_parser = parse_duration)]
    pub retry_cap: Duration,
    /// How long an operation whose round of attempts is spent waits for the
    /// next round; twice as long after each further round.
    #[arg(long, env = "CALSYNC_PARK", default_value = "60s", value_parser = parse_duration)]
    pub park: Duration,
    /// The longest wait between two rounds of attempts.
    #[arg(long, env = "CALSYNC_PARK_CAP", default_value = "15m", value_parser = parse_duration)]
    pub park_cap: Duration,
    /// How long this instance holds an operation it runs; after a crash, its
    /// operations are taken up by the next start once their leases end.
    #[arg(long, env = "CALSYNC_LEASE", default_value = "120s", value_parser = parse_duration)]
    pub lease: Duration,
    /// How often due operations (retries, parked work, a crashed instance's
    /// work) are taken up.
    #[arg(long, env = "CALSYNC_RESUME_EVERY", default_value = "5s", value_parser = parse_duration)]
    pub resume_every: Duration,
    /// How long after a cancel (or a failure) that follows a create whose
    /// answer was lost calsync looks for a copy that a late delivery of the
    /// create made (at least twice `--call-timeout` is used).
    #[arg(long, env = "CALSYNC_LATE_DELIVERY", default_value = "60s", value_parser = parse_duration)]
    pub late_delivery: Duration,
    /// The units of work one detectConflicts or suggestReschedules may spend
    /// (an event read, an occurrence expanded, a slot weighed for an
    /// attendee: one unit each); a request needing more is refused with 422.
    #[arg(long, env = "CALSYNC_WORK_LIMIT", default_value_t = crate::schedule::work::DEFAULT_WORK_LIMIT)]
    pub work_limit: u64,
}

impl EngineArgs {
    /// The engine configuration these settings describe.
    ///
    /// # Errors
    /// A setting that contradicts another, named: no attempts, a cap below
    /// its base, or a lease that a provider call could outlast (another
    /// instance could then take up an operation that is still running).
    pub fn config(&self) -> Result<Config, String> {
        if self.retry_attempts == 0 {
            return Err("--retry-attempts: must be at least 1".to_owned());
        }
        if self.retry_cap < self.retry_base {
            return Err(format!(
                "--retry-cap: {:?} is shorter than --retry-base {:?}",
                self.retry_cap, self.retry_base
            ));
        }
        if self.park_cap < self.park {
            return Err(format!(
                "--park-cap: {:?} is shorter than --park {:?}",
                self.park_cap, self.park
            ));
        }
        if self.work_limit == 0 {
            return Err("--work-limit: must be at least 1".to_owned());
        }
        if self.lease <= self.call_timeout {
            return Err(format!(
                "--lease: {:?} must be longer than --call-timeout {:?}, or an operation's \
                 lease could end while its call runs",
                self.lease, self.call_timeout
            ));
        }
        Ok(Config {
            retry: RetryPolicy {
                max_attempts: self.retry_attempts,
                base: self.retry_base,
                cap: self.retry_cap,
                park: self.park,
                park_cap: self.park_cap,
            },
            answer_within: self.answer_within,
            lease: self.lease,
            call_timeout: self.call_timeout,
            late_delivery: self.late_delivery,
            work_limit: self.work_limit,
            ..Config::default()
        })
    }
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
    ///
    /// # Errors
    /// Engine settings that contradict each other (see [`EngineArgs::config`]).
    pub fn setup(&self) -> Result<Setup, String> {
        Ok(Setup {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            database: self.database.clone(),
            data_dir: self.data_dir.clone(),
            providers: self.providers,
            google: self.google.config(),
            outlook: self.outlook.config(),
            zoom: self.zoom.config(),
            consent: self.consent.settings(),
            config: self.engine.config()?,
        })
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
    /// The address could not be bound.
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
    let connections = args.connections.connections().map_err(ServeError::Config)?;
    if matches!(auth, Auth::Open) {
        eprintln!(
            "\n!!! WARNING: calsync is serving WITHOUT API KEYS (--insecure-no-auth) on {}.\n\
             !!! Anyone who can reach this address can act for every user. Never do this off this machine.\n",
            args.bind
        );
    }
    let setup = args.setup().map_err(ServeError::Config)?;
    let opened = setup.open().await?;
    opened.sync.spawn_resumer(args.engine.resume_every);
    let mut state = AppState::new(opened.sync.clone(), opened.sandbox, auth);
    state.rate_limit = rate_limit;
    state.body_limit = args.body_limit;
    state.request_timeout = args.request_timeout;
    state.idempotency = crate::http::Idempotency::default().with_grace(args.idempotency_grace);
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
    http::serve(listener, http::app(state), connections, shutdown_signal()).await;
    upkeep.abort();
    tracing::info!("stopped taking requests; pending provider operations stay recorded");
    opened.sync.shutdown();
    Ok(())
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
        assert_eq!(
            args.idempotency_grace,
            crate::http::idempotency::DEFAULT_GRACE
        );
        assert_eq!(args.providers, ProviderSet::Sandbox);
        let config = args.setup().unwrap().config;
        let production = Config::default();
        assert_eq!(config.retry, production.retry);
        assert_eq!(config.call_timeout, production.call_timeout);
        assert_eq!(config.answer_within, production.answer_within);
        assert_eq!(config.lease, production.lease);
        assert_eq!(config.refresh_margin, production.refresh_margin);
        assert_eq!(config.late_delivery, production.late_delivery);
        assert_eq!(args.engine.resume_every, Duration::from_secs(5));
        assert_eq!(
            args.connections.connections().unwrap(),
            http::Connections::default()
        );
    }

    #[test]
    fn connection_settings_are_flags() {
        let args = parse(&[
            "--header-read-timeout",
            "2s",
            "--idle-timeout",
            "30s",
            "--max-connections",
            "16",
            "--header-limit",
            "8KiB",
        ])
        .unwrap();
        let connections = args.connections.connections().unwrap();
        assert_eq!(connections.header_read_timeout, Duration::from_secs(2));
        assert_eq!(connections.idle_timeout, Duration::from_secs(30));
        assert_eq!(connections.max_connections.get(), 16);
        assert_eq!(connections.header_limit, 8192);
    }

    #[test]
    fn engine_settings_shorten_every_wait() {
        let args = parse(&[
            "--call-timeout",
            "1s",
            "--answer-within",
            "2s",
            "--retry-attempts",
            "3",
            "--retry-base",
            "10ms",
            "--retry-cap",
            "200ms",
            "--park",
            "500ms",
            "--park-cap",
            "2s",
            "--lease",
            "4s",
            "--resume-every",
            "250ms",
            "--late-delivery",
            "3s",
        ])
        .unwrap();
        let config = args.setup().unwrap().config;
        assert_eq!(config.call_timeout, Duration::from_secs(1));
        assert_eq!(config.answer_within, Duration::from_secs(2));
        assert_eq!(
            config.retry,
            RetryPolicy {
                max_attempts: 3,
                base: Duration::from_millis(10),
                cap: Duration::from_millis(200),
                park: Duration::from_millis(500),
                park_cap: Duration::from_secs(2),
            }
        );
        assert_eq!(config.lease, Duration::from_secs(4));
        assert_eq!(args.engine.resume_every, Duration::from_millis(250));
        assert_eq!(config.late_delivery, Duration::from_secs(3));
    }

    #[test]
    fn contradicting_engine_settings_name_the_setting() {
        for (args, named) in [
            (&["--retry-attempts", "0"][..], "--retry-attempts"),
            (&["--retry-base", "2s", "--retry-cap", "1s"], "--retry-cap"),
            (&["--park", "2m", "--park-cap", "1m"], "--park-cap"),
            (&["--call-timeout", "5s", "--lease", "5s"], "--lease"),
            (&["--work-limit", "0"], "--work-limit"),
        ] {
            let error = parse(args).unwrap().setup().unwrap_err();
            assert!(error.contains(named), "{args:?}: {error}");
        }
        for (args, named) in [
            (&["--call-timeout", "0s"][..], "--call-timeout"),
            (&["--retry-base", "soon"], "--retry-base"),
            (&["--resume-every", "0ms"], "--resume-every"),
            (&["--late-delivery", "later"], "--late-delivery"),
            (&["--retry-attempts", "many"], "--retry-attempts"),
        ] {
            let error = parse(args).unwrap_err();
            assert!(error.contains(named), "{args:?}: {error}");
        }
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (args, named) in [
            (&["--bind", "nowhere"][..], "--bind"),
            (&["--body-limit", "12 parsecs"], "--body-limit"),
            (&["--request-timeout", "0s"], "--request-timeout"),
            (&["--header-read-timeout", "0s"], "--header-read-timeout"),
            (&["--idle-timeout", "0ms"], "--idle-timeout"),
            (&["--max-connections", "0"], "--max-connections"),
            (&["--max-connections", "many"], "--max-connections"),
            (&["--header-limit", "0"], "--header-limit"),
            (&["--providers", "google"], "--providers"),
            (&["--store", "ftp://x"], "--store"),
        ] {
            let error = parse(args).unwrap_err();
            assert!(error.contains(named), "{args:?}: {error}");
        }
        let small = parse(&["--header-limit", "512"]).unwrap();
        let error = small.connections.connections().unwrap_err();
        assert!(error.contains("--header-limit"), "{error}");
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
        let setup = args.setup().unwrap();
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
