//! Sealing credentials with AES-256-GCM before they reach the store.
//!
//! A sealed value is `"CSV1" | key id (4 bytes) | nonce (12 bytes) | ciphertext
//! and tag`. The key id is the first four bytes of the key's SHA-256, so a
//! vault holding the current key and older ones opens values sealed with any
//! of them, and seals only with the current one: keys rotate without a
//! migration. The account id is bound in as associated data, so a sealed value
//! copied onto another account does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::Path;

const MAGIC: &[u8; 4] = b"CSV1";
const HEADER: usize = 4 + 4 + 12;

/// The environment variable holding the master key (32 bytes, base64).
pub const MASTER_KEY_ENV: &str = "CALSYNC_MASTER_KEY";
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "master.key";

/// What can go wrong with keys and sealed values.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key is not 32 bytes of base64.
    #[error("{source_name}: the master key must be 32 bytes, base64-encoded ({detail})")]
    BadKey {
        /// Where the key came from.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// The key file could not be read or created.
    #[error("key file {path}: {detail}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The value was sealed with a key this vault does not hold.
    #[error("sealed with an unknown key (id {0}); add that key to open it")]
    UnknownKey(String),
    /// The value is too large to seal.
    #[error("value too large to seal")]
    TooLarge,
    /// The value is not a sealed value, or was altered.
    #[error("sealed value is damaged or was altered")]
    Damaged,
}

#[derive(Clone)]
struct Key {
    id: [u8; 4],
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        Key {
            id: [digest[0], digest[1], digest[2], digest[3]],
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// Seals and opens credentials. `Debug` never shows keys.
#[derive(Clone)]
pub struct Vault {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("current_key_id", &hex(&self.current.id))
            .field("previous_keys", &self.previous.len())
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Vault {
    /// A vault sealing with `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Vault {
            current: Key::new(key),
            previous: Vec::new(),
        }
    }

    /// A vault with a fresh random key (tests, demos).
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Vault::new(&key)
    }

    /// The same vault, also able to open values sealed with `key`.
    pub fn with_previous_key(mut self, key: &[u8; 32]) -> Self {
        self.previous.push(Key::new(key));
        self
    }

    /// Decodes a base64 key; `source_name` says where it came from in errors.
    ///
    /// # Errors
    /// `BadKey` when it is not 32 bytes of base64.
    pub fn decode_key(text: &str, source_name: &str) -> Result<[u8; 32], VaultError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|error| VaultError::BadKey {
                source_name: source_name.to_owned(),
                detail: error.to_string(),
            })?;
        bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| VaultError::BadKey {
                source_name: source_name.to_owned(),
                detail: format!("{} bytes", bytes.len()),
            })
    }

    /// The vault of a deployment: the key from `CALSYNC_MASTER_KEY` when set,
    /// else from `data_dir/master.key`, which is created (mode 0600) with a
    /// random key on first run.
    ///
    /// # Errors
    /// A bad key, or a key file that cannot be read or written.
    pub fn from_env_or_file(data_dir: &Path) -> Result<Vault, VaultError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Ok(Vault::new(&Vault::decode_key(&text, MASTER_KEY_ENV)?));
        }
        let path = data_dir.join(KEY_FILE);
        let file_error = |detail: String| VaultError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Vault::new(&Vault::decode_key(
                &text,
                &path.display().to_string(),
            )?)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                crate::private_fs::create_dir(data_dir).map_err(|e| file_error(e.to_string()))?;
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(&path, STANDARD.encode(key).as_bytes())
                    .map_err(|e| file_error(e.to_string()))?;
                Ok(Vault::new(&key))
            }
            Err(error) => Err(file_error(error.to_string())),
        }
    }

    /// Seals `plaintext`, bound to `context` (the account id).
    ///
    /// # Errors
    /// `TooLarge` past AES-GCM's message limit (64 GiB).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| VaultError::TooLarge)?;
        let mut sealed = Vec::with_capacity(HEADER + ciphertext.len());
        sealed.extend_from_slice(MAGIC);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value sealed with any key this vault holds, bound to `context`.
    ///
    /// # Errors
    /// `UnknownKey` or `Damaged`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, VaultError> {
        if sealed.len() < HEADER + 16 || &sealed[..4] != MAGIC {
            return Err(VaultError::Damaged);
        }
        let id = &sealed[4..8];
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| VaultError::UnknownKey(hex(id)))?;
        let payload = Payload {
            msg: &sealed[HEADER..],
            aad: context,
        };
        key.cipher
            .decrypt(Nonce::from_slice(&sealed[8..HEADER]), payload)
            .map_err(|_| VaultError::Damaged)
    }

    /// Whether `sealed` was sealed with an older key and should be sealed again.
    pub fn needs_reseal(&self, sealed: &[u8]) -> bool {
        sealed.len() >= 8 && sealed[4..8] != self.current.id
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_context() {
        let vault = Vault::random();
        let sealed = vault.seal(b"secret-token", b"account-1").expect("seal");
        assert_eq!(
            vault.open(&sealed, b"account-1").ok(),
            Some(b"secret-token".to_vec())
        );
        assert!(matches!(
            vault.open(&sealed, b"account-2"),
            Err(VaultError::Damaged)
        ));
    }

    #[test]
    fn a_rotated_vault_opens_old_values_and_seals_with_the_new_key() {
        let old = [1u8; 32];
        let new = [2u8; 32];
        let sealed_old = Vault::new(&old).seal(b"t", b"a").expect("seal");
        let rotated = Vault::new(&new).with_previous_key(&old);
        assert_eq!(rotated.open(&sealed_old, b"a").ok(), Some(b"t".to_vec()));
        assert!(rotated.needs_reseal(&sealed_old));
        assert!(!rotated.needs_reseal(&rotated.seal(b"t", b"a").expect("seal")));
        assert!(matches!(
            Vault::new(&new).open(&sealed_old, b"a"),
            Err(VaultError::UnknownKey(_))
        ));
    }

    #[test]
    fn altered_values_do_not_open() {
        let vault = Vault::random();
        let mut sealed = vault.seal(b"secret", b"a").expect("seal");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(
            vault.open(&sealed, b"a"),
            Err(VaultError::Damaged)
        ));
        assert!(matches!(
            vault.open(b"short", b"a"),
            Err(VaultError::Damaged)
        ));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        if std::env::var(MASTER_KEY_ENV).is_ok() {
            return;
        }
        let first = Vault::from_env_or_file(dir.path()).expect("vault");
        let second = Vault::from_env_or_file(dir.path()).expect("vault");
        let sealed = first.seal(b"x", b"a").expect("seal");
        assert_eq!(second.open(&sealed, b"a").ok(), Some(b"x".to_vec()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
