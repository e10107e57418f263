//! Sign-in sessions of the JSON-RPC door (Zabbix's `user.login` / `user.logout`): a 32-hex
//! session id that ends when it goes unused for the idle timeout, or at logout.

use super::{Authority, IssuedToken, Origin};
use crate::error::CoreError;
use crate::secret::{SecretFormat, TokenSecret};
use crate::token::{Binding, TokenKind};
use crate::user::{Role, User, Username};
use std::time::Duration;

impl Authority {
    /// Opens a session for a user who just signed in. `idle_timeout` of `None` never idles out.
    pub async fn open_session(
        &self,
        user: &User,
        idle_timeout: Option<Duration>,
        origin: &Origin,
    ) -> Result<IssuedToken, CoreError> {
        let idle = idle_timeout.map(|d| d.as_secs().max(1) as i64);
        let request = self.session_request(user, None, Binding::None, SecretFormat::Hex128, idle);
        self.issue(request, origin).await
    }

    /// Ends a session; answers whether it was open.
    pub async fn close_session(
        &self,
        session: &TokenSecret,
        origin: &Origin,
    ) -> Result<bool, CoreError> {
        match self.store().token_by_hash(&session.hash()).await? {
            Some(token) if token.kind == TokenKind::Session => self.revoke(&token, origin).await,
            _ => Ok(false),
        }
    }

    /// Changes a user's name (when given), display name and role. The last enabled super
    /// admin keeps the role; a name another user has (ignoring case) is a conflict.
    pub async fn update_user(
        &self,
        user_id: i64,
        username: Option<Username>,
        display_name: String,
        role: Role,
        origin: &Origin,
    ) -> Result<User, CoreError> {
        let user = self.user(user_id).await?;
        if role != user.role {
            self.keep_one_super_admin(&user, "demoted").await?;
        }
        let username = username.map_or(user.username.clone(), |u| u.as_str().to_owned());
        self.store()
            .update_user(user_id, &username, &display_name, role)
            .await
            .map_err(super::conflict_as_core)?;
        self.inner.cache.clear();
        self.record(crate::audit::AuditKind::UserChanged, origin, |e| {
            e.subject_user_id = Some(user_id);
            e.detail = format!("display name or role changed (role {role})");
        })
        .await?;
        self.user(user_id).await
    }

    /// For doors acting for a signed-in user: only a super admin manages users.
    pub fn require_super_admin(&self, actor: &User) -> Result<(), CoreError> {
        if actor.role == Role::SuperAdmin && actor.enabled {
            Ok(())
        } else {
            Err(CoreError::Forbidden(
                "only a super admin manages users".into(),
            ))
        }
    }
}
