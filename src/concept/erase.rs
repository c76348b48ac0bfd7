//! deleteUser: everything calsync keeps for a user, erased.

use super::CalendarSync;
use crate::error::Result;
use crate::model::{AccountId, UserId};
use crate::providers::Revocation;
use crate::store::Erased;
use serde::{Deserialize, Serialize};

/// What [`CalendarSync::delete_user`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasedUser {
    /// How many records were removed, per collection.
    pub removed: Erased,
    /// Accounts whose credentials the provider did not confirm revoking
    /// (unreachable, or refused): erased all the same; the person may want
    /// to remove the app's access in the provider's settings.
    pub not_revoked: Vec<AccountId>,
}

impl CalendarSync {
    /// Erases a user: revokes what can be revoked, then removes everything
    /// stored for them.
    ///
    /// Not an action of the spec: the one way to honour a person's request to
    /// be forgotten.
    ///
    /// # Requires
    /// - `user` is not empty.
    ///
    /// # Effects
    /// Revokes the credentials of each of the user's accounts that holds
    /// them, at its provider (best effort: a refusal is reported, not
    /// fatal), then removes the user's accounts with their sealed
    /// credentials, synced events, recorded conflicts, operations and
    /// idempotency keys. Events already on the providers stay there: they
    /// are the person's own calendar entries. Erasing an unknown user, or
    /// erasing twice, removes nothing and is not an error.
    ///
    /// # Errors
    /// - [`crate::Error::Invalid`]: `user` is empty or not an id;
    /// - [`crate::Error::Store`]: the store failed (what was removed stays removed;
    ///   erasing again finishes the job).
    pub async fn delete_user(&self, user: &UserId) -> Result<ErasedUser> {
        user.check()?;
        let mut not_revoked = Vec::new();
        for record in self.engine.store().accounts_of_user(user).await? {
            if record.sealed_credentials.is_none() {
                continue;
            }
            match self.revoke(&record).await {
                Ok(Revocation::Revoked) => {}
                // No way to revoke there: the credentials go with the user.
                Ok(Revocation::NotSupported(_)) => not_revoked.push(record.account.id.clone()),
                Err(error) => {
                    tracing::warn!(account = %record.account.id, %error, "not revoked at the provider; erased anyway");
                    not_revoked.push(record.account.id.clone());
                }
            }
        }
        let removed = self.engine.store().erase_user(user).await?;
        tracing::info!(%user, ?removed, "user erased");
        Ok(ErasedUser {
            removed,
            not_revoked,
        })
    }
}
