//! Building a [`CalendarSync`] from deployment settings: which store, which
//! prefix, where the data and the master key live, which providers.
//!
//! `calsync serve`, `calsync demo`, `calsync account` and `calsync import`
//! all start here, so a setting means the same thing whichever command reads
//! it; an application that embeds calsync can start here too, without the
//! command line (settings are plain values, parsed with [`str::parse`]).

mod google;
mod outlook;
mod zoom;

pub use google::GoogleConfig;
pub use outlook::OutlookConfig;
pub use zoom::ZoomConfig;

use crate::concept::{CalendarSync, Config, ConsentSettings};
use crate::providers::Providers;
use crate::providers::sandbox::Sandbox;
use crate::store::{Store, StoreError, redact_uri};
use crate::vault::{Vault, VaultError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// The default store file: `./calsync-data/calsync.db`.
pub const DEFAULT_STORE: &str = "./calsync-data/calsync.db";

/// Where the store lives.
///
/// Its `Display` and `Debug` forms hide any user name and password a
/// MongoDB URI holds, so a location can be logged or printed in an error.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A MongoDB deployment, by connection URI.
    MongoDb(String),
}

impl FromStr for StoreLocation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must be a file path or a mongodb:// URI".to_owned());
        }
        if text.starts_with("mongodb://") || text.starts_with("mongodb+srv://") {
            return Ok(StoreLocation::MongoDb(text.to_owned()));
        }
        if let Some(scheme_end) = text.find("://") {
            // Only the scheme is quoted: the rest may hold a password.
            return Err(format!(
                "a {}:// URI is neither a file path nor a mongodb:// or mongodb+srv:// URI",
                &text[..scheme_end]
            ));
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::MongoDb(uri) => f.write_str(&redact_uri(uri)),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreLocation::MongoDb(uri) => {
                f.debug_tuple("MongoDb").field(&redact_uri(uri)).finish()
            }
        }
    }
}

/// Which provider adapters to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProviderSet {
    /// The simulated providers for all four (no real accounts needed).
    #[default]
    Sandbox,
    /// Only live adapters: those this build has (`apple`: CalDAV, with the
    /// `caldav` feature; `google`, `outlook` and `zoom`, each with its own
    /// feature, when its client is configured). Any other provider is not
    /// configured: connecting it answers `unsupported_provider` naming what
    /// is missing.
    Live,
}

impl ProviderSet {
    /// The names [`ProviderSet::from_str`] accepts in this build.
    pub const NAMES: &'static str = if cfg!(any(
        feature = "caldav",
        feature = "google",
        feature = "outlook",
        feature = "zoom"
    )) {
        "sandbox, live"
    } else {
        "sandbox"
    };
}

impl FromStr for ProviderSet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "sandbox" => Ok(ProviderSet::Sandbox),
            "live"
                if cfg!(any(
                    feature = "caldav",
                    feature = "google",
                    feature = "outlook",
                    feature = "zoom"
                )) =>
            {
                Ok(ProviderSet::Live)
            }
            other => Err(format!(
                "{other:?} is not available; the providers available are: {}",
                ProviderSet::NAMES
            )),
        }
    }
}

/// Why a [`CalendarSync`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The store could not be opened.
    #[error("store {location}: {source}")]
    Store {
        /// Where the store was looked for.
        location: String,
        /// Why it failed.
        source: StoreError,
    },
    /// The master key could not be read or made.
    #[error("master key: {0}")]
    Vault(#[from] VaultError),
    /// A setting asks for something this build does not have.
    #[error("{setting}: {reason}")]
    Unsupported {
        /// The setting.
        setting: &'static str,
        /// Why.
        reason: String,
    },
    /// The data directory could not be made.
    #[error("data directory {path}: {detail}")]
    DataDir {
        /// The directory.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// The settings a deployment is built from.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Where the store lives.
    pub store: StoreLocation,
    /// The prefix of the store's collections.
    pub prefix: String,
    /// The MongoDB database (default: the URI's, else `calsync`); only a
    /// MongoDB store has one.
    pub database: Option<String>,
    /// Where the master key file lives (default: the store file's directory).
    pub data_dir: Option<PathBuf>,
    /// Which providers to use.
    pub providers: ProviderSet,
    /// How Google is reached (with the live providers).
    pub google: GoogleConfig,
    /// How Microsoft Graph is reached (with the live providers).
    pub outlook: OutlookConfig,
    /// How Zoom is reached (with the live providers).
    pub zoom: ZoomConfig,
    /// Where consent flows send people back.
    pub consent: ConsentSettings,
    /// How the concept behaves.
    pub config: Config,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            store: StoreLocation::Sqlite(PathBuf::from(DEFAULT_STORE)),
            prefix: crate::store::DEFAULT_PREFIX.to_owned(),
            database: None,
            data_dir: None,
            providers: ProviderSet::Sandbox,
            google: GoogleConfig::default(),
            outlook: OutlookConfig::default(),
            zoom: ZoomConfig::default(),
            consent: ConsentSettings::default(),
            config: Config::default(),
        }
    }
}

/// A built deployment: the concept, and the sandbox when providers are simulated.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The concept.
    pub sync: CalendarSync,
    /// The simulated providers, when those are in use.
    pub sandbox: Option<Sandbox>,
}

impl Setup {
    /// A deployment kept in `data_dir` (`calsync.db` and the master key file)
    /// with the live providers (Google's, Outlook's and Zoom's settings from
    /// the environment).
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Setup {
            store: StoreLocation::Sqlite(data_dir.join("calsync.db")),
            data_dir: Some(data_dir.to_owned()),
            providers: ProviderSet::Live,
            google: GoogleConfig::from_env(),
            outlook: OutlookConfig::from_env(),
            zoom: ZoomConfig::from_env(),
            ..Setup::default()
        }
    }

    /// The directory the master key file lives in.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        match &self.store {
            StoreLocation::Sqlite(path) => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            },
            StoreLocation::MongoDb(_) => PathBuf::from("./calsync-data"),
        }
    }

    /// Opens the store, the vault and the providers, and builds the concept.
    ///
    /// # Errors
    /// A store that cannot be opened, a bad master key or key file, or a
    /// setting this build does not support; each names what is wrong.
    pub async fn open(&self) -> Result<Opened, SetupError> {
        let store = self.open_store().await?;
        let vault = Vault::from_env_or_file(&self.data_dir())?;
        let (providers, sandbox) = match self.providers {
            ProviderSet::Sandbox => {
                let sandbox = Sandbox::new();
                (sandbox.providers(), Some(sandbox))
            }
            ProviderSet::Live => (
                live(&self.google, &self.outlook, &self.zoom, &store, &vault)?,
                None,
            ),
        };
        let sync = CalendarSync::builder(store)
            .providers(providers)
            .vault(vault)
            .config(self.config.clone())
            .consent(self.consent.clone())
            .build();
        Ok(Opened { sync, sandbox })
    }

    async fn open_store(&self) -> Result<Arc<dyn Store>, SetupError> {
        let location = self.store.to_string();
        let failed = |source| SetupError::Store {
            location: location.clone(),
            source,
        };
        match &self.store {
            StoreLocation::Sqlite(_) if self.database.is_some() => Err(SetupError::Unsupported {
                setting: "database",
                reason: "only a mongodb:// store has a database; the SQLite store is one file"
                    .to_owned(),
            }),
            StoreLocation::Sqlite(path) => {
                make_parent(path)?;
                let store = crate::store::SqliteStore::open(path, &self.prefix)
                    .await
                    .map_err(failed)?;
                Ok(Arc::new(store))
            }
            #[cfg(feature = "mongodb")]
            StoreLocation::MongoDb(uri) => {
                let store =
                    crate::store::MongoStore::connect(uri, self.database.as_deref(), &self.prefix)
                        .await
                        .map_err(failed)?;
                Ok(Arc::new(store))
            }
            #[cfg(not(feature = "mongodb"))]
            StoreLocation::MongoDb(_) => Err(SetupError::Unsupported {
                setting: "store",
                reason: "calsync was built without MongoDB support (cargo feature `mongodb`); \
                         rebuild with --features mongodb, or use a SQLite file path"
                    .to_owned(),
            }),
        }
    }
}

/// Every live adapter this build has and the settings configure; each
/// provider left out is noted with what it lacks.
/// provider left out is noted with what it lacks. Zoom keeps deployment-wide
/// state (the Server-to-Server token, the daily counts) in `store`, sealed
/// with `vault`.
fn live(
    google: &GoogleConfig,
    outlook: &OutlookConfig,
    zoom: &ZoomConfig,
    store: &Arc<dyn Store>,
    vault: &Vault,
) -> Result<Providers, SetupError> {
    let providers = Providers::new();
    #[cfg(feature = "caldav")]
    let providers = {
        let adapter = crate::providers::caldav::CalDavProvider::new().map_err(|error| {
            SetupError::Unsupported {
                setting: "providers",
                reason: format!("the CalDAV adapter cannot start: {error}"),
            }
        })?;
        providers.with(Arc::new(adapter))
    };
    #[cfg(not(feature = "caldav"))]
    let providers = providers.not_configured(
        crate::model::Provider::Apple,
        "apple needs a build with the cargo feature `caldav`",
    );
    let providers = live_google(providers, google)?;
    let providers = live_outlook(providers, outlook)?;
    live_zoom(providers, zoom, store, vault)
}

#[cfg(feature = "zoom")]
fn live_zoom(
    providers: Providers,
    zoom: &ZoomConfig,
    store: &Arc<dyn Store>,
    vault: &Vault,
) -> Result<Providers, SetupError> {
    let Some(settings) = zoom.settings() else {
        let reason = zoom.missing().unwrap_or_default();
        return Ok(providers.not_configured(crate::model::Provider::Zoom, reason));
    };
    let adapter =
        crate::providers::zoom::ZoomProvider::new(&settings, store.clone(), vault.clone())
            .map_err(|error| SetupError::Unsupported {
                setting: "zoom",
                reason: error.message,
            })?;
    Ok(providers.with_meetings(Arc::new(adapter)))
}

#[cfg(not(feature = "zoom"))]
fn live_zoom(
    providers: Providers,
    zoom: &ZoomConfig,
    _store: &Arc<dyn Store>,
    _vault: &Vault,
) -> Result<Providers, SetupError> {
    if !zoom.is_empty() {
        return Err(SetupError::Unsupported {
            setting: "zoom",
            reason: "calsync was built without Zoom support (cargo feature `zoom`); \
                     rebuild with --features zoom"
                .to_owned(),
        });
    }
    Ok(providers.not_configured(
        crate::model::Provider::Zoom,
        "zoom needs a build with the cargo feature `zoom`",
    ))
}

#[cfg(feature = "google")]
fn live_google(providers: Providers, google: &GoogleConfig) -> Result<Providers, SetupError> {
    let Some(settings) = google.settings() else {
        let reason = google.missing().unwrap_or_default();
        return Ok(providers.not_configured(crate::model::Provider::Google, reason));
    };
    let adapter = crate::providers::google::GoogleProvider::new(&settings).map_err(|error| {
        SetupError::Unsupported {
            setting: "google",
            reason: error.message,
        }
    })?;
    Ok(providers.with(Arc::new(adapter)))
}

#[cfg(not(feature = "google"))]
fn live_google(providers: Providers, google: &GoogleConfig) -> Result<Providers, SetupError> {
    if !google.is_empty() {
        return Err(SetupError::Unsupported {
            setting: "google",
            reason: "calsync was built without Google support (cargo feature `google`); \
                     rebuild with --features google"
                .to_owned(),
        });
    }
    Ok(providers.not_configured(
        crate::model::Provider::Google,
        "google needs a build with the cargo feature `google`",
    ))
}

#[cfg(feature = "outlook")]
fn live_outlook(providers: Providers, outlook: &OutlookConfig) -> Result<Providers, SetupError> {
    let Some(settings) = outlook.settings() else {
        let reason = outlook.missing().unwrap_or_default();
        return Ok(providers.not_configured(crate::model::Provider::Outlook, reason));
    };
    let adapter = crate::providers::outlook::OutlookProvider::new(&settings).map_err(|error| {
        SetupError::Unsupported {
            setting: "outlook",
            reason: error.message,
        }
    })?;
    Ok(providers.with(Arc::new(adapter)))
}

#[cfg(not(feature = "outlook"))]
fn live_outlook(providers: Providers, outlook: &OutlookConfig) -> Result<Providers, SetupError> {
    if !outlook.is_empty() {
        return Err(SetupError::Unsupported {
            setting: "outlook",
            reason: "calsync was built without Outlook support (cargo feature `outlook`); \
                     rebuild with --features outlook"
                .to_owned(),
        });
    }
    Ok(providers.not_configured(
        crate::model::Provider::Outlook,
        "outlook needs a build with the cargo feature `outlook`",
    ))
}

/// The data directory of the command line: `CALSYNC_DATA_DIR`, else
/// `$XDG_DATA_HOME/calsync`, else `~/.local/share/calsync`, else `./calsync-data`.
pub fn default_data_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("CALSYNC_DATA_DIR") {
        return dir.into();
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("calsync");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/calsync"),
        None => PathBuf::from("calsync-data"),
    }
}

fn make_parent(path: &Path) -> Result<(), SetupError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => crate::private_fs::create_dir(parent)
            .map_err(|error| SetupError::DataDir {
                path: parent.display().to_string(),
                detail: error.to_string(),
            }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_locations_parse_by_shape() {
        assert_eq!(
            "data/x.db".parse::<StoreLocation>(),
            Ok(StoreLocation::Sqlite(PathBuf::from("data/x.db")))
        );
        assert!(matches!(
            "mongodb://h:27017".parse::<StoreLocation>(),
            Ok(StoreLocation::MongoDb(_))
        ));
        assert!("http://x".parse::<StoreLocation>().is_err());
        let refused = "mongo://calsync:hunter2@h/".parse::<StoreLocation>();
        let refused = refused.expect_err("not a mongodb:// scheme");
        assert!(refused.contains("mongo://"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        assert!("".parse::<StoreLocation>().is_err());
    }

    #[test]
    fn credentials_in_a_uri_are_never_shown() {
        let location: StoreLocation = "mongodb://calsync:hunter2@db1:27017,db2/app?replicaSet=rs0"
            .parse()
            .expect("a mongodb:// URI");
        let shown = [format!("{location}"), format!("{location:?}")];
        for text in &shown {
            assert!(!text.contains("hunter2"), "{text}");
            assert!(!text.contains("calsync:"), "{text}");
            assert!(text.contains("db1:27017,db2/app?replicaSet=rs0"), "{text}");
        }
        let setup = Setup {
            store: location,
            ..Setup::default()
        };
        assert!(!format!("{setup:?}").contains("hunter2"));
        let plain = "mongodb://127.0.0.1:27017/?directConnection=true";
        assert_eq!(redact_uri(plain), plain);
        assert_eq!(
            redact_uri("mongodb+srv://u:p@c0/x"),
            "mongodb+srv://***@c0/x"
        );
    }

    #[tokio::test]
    async fn a_database_is_refused_for_a_sqlite_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let setup = Setup {
            store: StoreLocation::Sqlite(dir.path().join("c.db")),
            database: Some("calsync".to_owned()),
            data_dir: Some(dir.path().to_owned()),
            ..Setup::default()
        };
        match setup.open().await {
            Err(SetupError::Unsupported { setting, .. }) => assert_eq!(setting, "database"),
            other => panic!("expected the database setting to be refused: {other:?}"),
        }
        assert!(!dir.path().join("c.db").exists(), "nothing was made");
    }

    #[cfg(not(feature = "mongodb"))]
    #[tokio::test]
    async fn without_the_feature_a_mongodb_store_is_refused_clearly() {
        let setup = Setup {
            store: "mongodb://u:hunter2@127.0.0.1:9/".parse().expect("uri"),
            ..Setup::default()
        };
        let error = setup.open().await.expect_err("not built in").to_string();
        assert!(error.contains("built without MongoDB support"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[cfg(feature = "mongodb")]
    #[tokio::test]
    async fn a_mongodb_store_that_does_not_answer_is_named_without_its_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let setup = Setup {
            store: "mongodb://u:hunter2@127.0.0.1:9/?serverSelectionTimeoutMS=200"
                .parse()
                .expect("uri"),
            data_dir: Some(dir.path().to_owned()),
            ..Setup::default()
        };
        let error = setup.open().await.expect_err("nothing listens on port 9");
        assert!(
            matches!(
                error,
                SetupError::Store {
                    source: StoreError::Unavailable(_),
                    ..
                }
            ),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("127.0.0.1:9"), "{shown}");
    }

    #[test]
    fn only_the_sandbox_and_this_builds_live_adapters_are_offered() {
        assert_eq!("sandbox".parse(), Ok(ProviderSet::Sandbox));
        let refused = "google".parse::<ProviderSet>().unwrap_err();
        assert!(refused.contains("sandbox"), "{refused}");
        assert_eq!(
            "live".parse::<ProviderSet>().is_ok(),
            cfg!(any(
                feature = "caldav",
                feature = "google",
                feature = "outlook",
                feature = "zoom"
            ))
        );
    }

    #[test]
    fn the_key_lives_beside_the_store_file() {
        let setup = Setup {
            store: StoreLocation::Sqlite(PathBuf::from("/srv/cal/c.db")),
            ..Setup::default()
        };
        assert_eq!(setup.data_dir(), PathBuf::from("/srv/cal"));
    }
}
