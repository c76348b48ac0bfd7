//! Building a [`CalendarSync`] from deployment settings: which store, which
//! prefix, where the data and the master key live, which providers.
//!
//! `calsync serve`, `calsync demo`, `calsync account` and `calsync import`
//! all start here, so a setting means the same thing whichever command reads it.

use crate::concept::{CalendarSync, Config};
use crate::providers::Providers;
use crate::providers::sandbox::Sandbox;
use crate::store::{Store, StoreError};
use crate::vault::{Vault, VaultError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

/// The default store file: `./calsync-data/calsync.db`.
pub const DEFAULT_STORE: &str = "./calsync-data/calsync.db";

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
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
        if text.contains("://") {
            return Err(format!(
                "{text:?} is neither a file path nor a mongodb:// URI"
            ));
        }
        Ok(StoreLocation::Sqlite(PathBuf::from(text)))
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            // The URI may hold a password: only its scheme is shown.
            StoreLocation::MongoDb(_) => f.write_str("mongodb://<redacted>"),
        }
    }
}

/// Which provider adapters to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProviderSet {
    /// The simulated providers for all four (no real accounts needed).
    #[default]
    Sandbox,
    /// The live adapters this build has (`apple`: CalDAV, with the `caldav`
    /// feature); the providers without one stay simulated.
    Live,
}

impl ProviderSet {
    /// The names [`ProviderSet::from_str`] accepts in this build.
    pub const NAMES: &'static str = if cfg!(feature = "caldav") {
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
            "live" if cfg!(feature = "caldav") => Ok(ProviderSet::Live),
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
    /// Where the master key file lives (default: the store file's directory).
    pub data_dir: Option<PathBuf>,
    /// Which providers to use.
    pub providers: ProviderSet,
    /// How the concept behaves.
    pub config: Config,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            store: StoreLocation::Sqlite(PathBuf::from(DEFAULT_STORE)),
            prefix: crate::store::DEFAULT_PREFIX.to_owned(),
            data_dir: None,
            providers: ProviderSet::Sandbox,
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
    /// with the live providers.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Setup {
            store: StoreLocation::Sqlite(data_dir.join("calsync.db")),
            data_dir: Some(data_dir.to_owned()),
            providers: ProviderSet::Live,
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
        let sandbox = Sandbox::new();
        let providers = match self.providers {
            ProviderSet::Sandbox => sandbox.providers(),
            ProviderSet::Live => live(sandbox.providers())?,
        };
        let sync = CalendarSync::builder(store)
            .providers(providers)
            .vault(vault)
            .config(self.config.clone())
            .build();
        Ok(Opened {
            sync,
            sandbox: Some(sandbox),
        })
    }

    async fn open_store(&self) -> Result<Arc<dyn Store>, SetupError> {
        let location = self.store.to_string();
        let failed = |source| SetupError::Store {
            location: location.clone(),
            source,
        };
        match &self.store {
            StoreLocation::Sqlite(path) => {
                make_parent(path)?;
                let store = crate::store::SqliteStore::open(path, &self.prefix)
                    .await
                    .map_err(failed)?;
                Ok(Arc::new(store))
            }
            StoreLocation::MongoDb(_) => Err(SetupError::Unsupported {
                setting: "store",
                reason: "MongoDB is not available in this build; use a SQLite file path".to_owned(),
            }),
        }
    }
}

/// `simulated` with every live adapter this build has in place of its sandbox.
fn live(simulated: Providers) -> Result<Providers, SetupError> {
    #[cfg(feature = "caldav")]
    let simulated = {
        let adapter = crate::providers::caldav::CalDavProvider::new().map_err(|error| {
            SetupError::Unsupported {
                setting: "providers",
                reason: format!("the CalDAV adapter cannot start: {error}"),
            }
        })?;
        simulated.with(Arc::new(adapter))
    };
    Ok(simulated)
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
        Some(parent) if !parent.as_os_str().is_empty() => {
            std::fs::create_dir_all(parent).map_err(|error| SetupError::DataDir {
                path: parent.display().to_string(),
                detail: error.to_string(),
            })
        }
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
        assert!("".parse::<StoreLocation>().is_err());
    }

    #[test]
    fn only_the_sandbox_and_this_builds_live_adapters_are_offered() {
        assert_eq!("sandbox".parse(), Ok(ProviderSet::Sandbox));
        let refused = "google".parse::<ProviderSet>().unwrap_err();
        assert!(refused.contains("sandbox"), "{refused}");
        assert_eq!(
            "live".parse::<ProviderSet>().is_ok(),
            cfg!(feature = "caldav")
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
