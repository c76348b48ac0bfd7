//! A [`CalendarSync`] over a deployment's data directory: the embedded store
//! (`calsync.db`), the vault (`CALSYNC_MASTER_KEY` or `master.key`) and the
//! providers calsync can reach. The command line and the HTTP service open
//! the same state this way.

use crate::providers::Providers;
use crate::providers::sandbox::Sandbox;
use crate::store::{DEFAULT_PREFIX, SqliteStore, Store};
use crate::vault::Vault;
use crate::{CalendarSync, Config};
use std::path::Path;
use std::sync::Arc;

/// Why the state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The data directory cannot be created.
    #[error("data dir {path}: {detail}")]
    DataDir {
        /// The directory.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The store cannot be opened.
    #[error("store: {0}")]
    Store(String),
    /// The vault key is bad or cannot be read or written.
    #[error("vault: {0}")]
    Vault(String),
    /// A provider adapter cannot be set up.
    #[error("provider {0}: {1}")]
    Provider(&'static str, String),
}

/// The providers of a deployment: `apple` is the live CalDAV adapter (with
/// the `caldav` feature); the others are sandboxes until their live adapters
/// exist.
///
/// # Errors
/// [`SetupError::Provider`] when the CalDAV adapter's HTTP client cannot be built.
pub fn live_providers() -> Result<Providers, SetupError> {
    let providers = Sandbox::new().providers();
    #[cfg(feature = "caldav")]
    let providers = {
        let adapter = crate::providers::caldav::CalDavProvider::new()
            .map_err(|error| SetupError::Provider("apple", error.to_string()))?;
        providers.with(Arc::new(adapter))
    };
    Ok(providers)
}

/// The concept over `data_dir` with `providers`, behaving as `config` says.
///
/// # Errors
/// The directory, the store or the vault cannot be opened.
pub async fn open(
    data_dir: &Path,
    providers: Providers,
    config: Config,
) -> Result<CalendarSync, SetupError> {
    std::fs::create_dir_all(data_dir).map_err(|error| SetupError::DataDir {
        path: data_dir.display().to_string(),
        detail: error.to_string(),
    })?;
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&data_dir.join("calsync.db"), DEFAULT_PREFIX)
            .await
            .map_err(|error| SetupError::Store(error.to_string()))?,
    );
    let vault =
        Vault::from_env_or_file(data_dir).map_err(|error| SetupError::Vault(error.to_string()))?;
    Ok(CalendarSync::builder(store)
        .providers(providers)
        .vault(vault)
        .config(config)
        .build())
}

/// The data directory: `CALSYNC_DATA_DIR`, else `$XDG_DATA_HOME/calsync`,
/// else `~/.local/share/calsync`, else `./calsync-data`.
pub fn default_data_dir() -> std::path::PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("CALSYNC_DATA_DIR") {
        return dir.into();
    }
    if let Some(dir) = var("XDG_DATA_HOME") {
        return std::path::PathBuf::from(dir).join("calsync");
    }
    match var("HOME") {
        Some(home) => std::path::PathBuf::from(home).join(".local/share/calsync"),
        None => std::path::PathBuf::from("calsync-data"),
    }
}
