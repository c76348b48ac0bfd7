//! Files and directories only the service's own user may read: the data
//! directory (0700), the store's files and the key file (0600). Sealed
//! credentials are safe anywhere, but titles, attendees and emails are not.
//! Elsewhere than on Unix the platform's defaults apply.

use std::io;
use std::path::Path;

/// Creates `dir` and its missing parents, each new one readable by the
/// owner only; an existing directory is left as it is.
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes `file` readable and writable by the owner only, creating it empty
/// when it does not exist. SQLite gives the journal files it creates beside a
/// database the database file's mode.
pub(crate) fn restrict_file(file: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
        {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
            }
            Err(error) => Err(error),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        Ok(())
    }
}
