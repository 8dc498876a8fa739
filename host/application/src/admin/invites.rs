use coffer_domain::account::{Email, Invite, InviteId};

use super::{Administration, IssuedInvite};
use crate::ports::SecretKind;
use crate::{AppError, Principal};

impl Administration {
    /// Issues a single-use sign-up invitation, optionally bound to one email address.
    #[tracing::instrument(skip_all, fields(admin = %caller.user_id))]
    pub async fn create_invite(
        &self,
        caller: &Principal,
        email: Option<String>,
    ) -> Result<IssuedInvite, AppError> {
        caller.require_admin()?;
        let email = email.as_deref().map(Email::parse).transpose()?;
        let now = self.ports.clock.now();
        let secret = self.ports.secrets.generate(SecretKind::Invite);
        let invite = Invite {
            id: InviteId::from_uuid(self.ports.ids.new_id()),
            code_digest: secret.digest,
            email,
            created_by: caller.user_id,
            created_at: now,
            expires_at: now + self.rules.invite_lifetime,
            accepted_by: None,
        };
        let mut tx = self.ports.uow.begin().await?;
        tx.invites().insert(&invite).await?;
        tx.commit().await?;
        Ok(IssuedInvite {
            invite,
            code: secret.plaintext,
        })
    }
}
