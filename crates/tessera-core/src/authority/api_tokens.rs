//! API tokens as managed objects (Zabbix's `token.*`): created with a name and no secret,
//! given a secret on demand (shown once, regenerating replaces it), changed, deleted, searched.
//!
//! The rules: managing tokens needs the `manage_api_tokens` permission; only a super admin
//! manages or sees another user's tokens; a name is unique among one user's API tokens.

use super::{Authority, Origin};
use crate::audit::AuditKind;
use crate::error::CoreError;
use crate::scope::Scope;
use crate::secret::{SecretFormat, TokenSecret};
use crate::token::{Binding, NewToken, Token, TokenChanges, TokenKind, TokenStatus};
use crate::token_search::{FieldValue, TokenField, TokenSearch};
use crate::user::{Permission, Role, User};
use time::OffsetDateTime;

/// The longest API token name (Zabbix's column is 64 characters).
pub const MAX_NAME_CHARS: usize = 64;

/// An API token to create.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub status: TokenStatus,
    pub expires_at: Option<OffsetDateTime>,
}

impl Authority {
    fn may_manage_tokens_of(&self, actor: &User, owner_id: i64) -> Result<(), CoreError> {
        if !actor.has_permission(Permission::ManageApiTokens) {
            return Err(CoreError::Forbidden(
                "the user may not manage API tokens".into(),
            ));
        }
        if owner_id != actor.id && actor.role != Role::SuperAdmin {
            return Err(CoreError::Forbidden(
                "only a super admin manages other users' tokens".into(),
            ));
        }
        Ok(())
    }

    fn check_api_token_name(name: &str) -> Result<(), CoreError> {
        if name.is_empty() {
            return Err(CoreError::InvalidInput("the name cannot be empty".into()));
        }
        if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(CoreError::InvalidInput(format!(
                "the name has at most {MAX_NAME_CHARS} characters and no control characters"
            )));
        }
        Ok(())
    }

    /// Descriptions may span lines but hold no other control characters (PostgreSQL cannot
    /// even store NUL).
    fn check_api_token_description(description: &str) -> Result<(), CoreError> {
        let bad = description
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        if bad || description.chars().count() > 2048 {
            return Err(CoreError::InvalidInput(
                "the description has at most 2048 characters and no control characters but line breaks and tabs".into(),
            ));
        }
        Ok(())
    }

    async fn api_token_name_taken(&self, owner_id: i64, name: &str) -> Result<bool, CoreError> {
        let search = TokenSearch {
            kind: Some(TokenKind::Api),
            user_ids: Some(vec![owner_id]),
            filter: vec![(TokenField::Name, vec![FieldValue::Text(name.to_owned())])],
            limit: Some(1),
            ..TokenSearch::default()
        };
        Ok(self.store().count_tokens(&search).await? > 0)
    }

    /// Creates API tokens, all or none. They have no usable secret until
    /// [`generate_api_token_secrets`](Self::generate_api_token_secrets).
    pub async fn create_api_tokens(
        &self,
        actor: &User,
        tokens: Vec<NewApiToken>,
        origin: &Origin,
    ) -> Result<Vec<Token>, CoreError> {
        let mut seen: Vec<(i64, &str)> = Vec::new();
        for new in &tokens {
            self.may_manage_tokens_of(actor, new.user_id)?;
            Self::check_api_token_name(&new.name)?;
            Self::check_api_token_description(&new.description)?;
            self.user(new.user_id).await?;
            if seen.contains(&(new.user_id, new.name.as_str()))
                || self.api_token_name_taken(new.user_id, &new.name).await?
            {
                return Err(CoreError::Conflict(format!(
                    "API token \"{}\" of user {}",
                    new.name, new.user_id
                )));
            }
            seen.push((new.user_id, new.name.as_str()));
        }
        let now = self.now();
        let mut created = Vec::with_capacity(tokens.len());
        for new in tokens {
            // A secret nobody ever sees: the token cannot be used until one is generated.
            let unusable = TokenSecret::generate(SecretFormat::Hex);
            let event = self.event(AuditKind::TokenIssued, origin, |e| {
                e.subject_user_id = Some(new.user_id);
                e.detail = "API token created, no secret yet".into();
            });
            let unstored = NewToken {
                hash: unusable.hash(),
                kind: TokenKind::Api,
                door: origin.door,
                user_id: Some(new.user_id),
                client_id: None,
                name: new.name,
                description: new.description,
                scope: Scope::default(),
                created_at: now,
                expires_at: new.expires_at,
                creator_id: Some(actor.id),
                binding: Binding::None,
                family: None,
                idle_timeout: None,
            };
            let mut token = self.store().insert_issued_token(&unstored, &event).await?;
            if new.status == TokenStatus::Disabled {
                self.store()
                    .transition_token(token.id, TokenStatus::Active, TokenStatus::Disabled)
                    .await?;
                token.status = TokenStatus::Disabled;
            }
            created.push(token);
        }
        Ok(created)
    }

    /// The API token with this id, if the actor may manage it; otherwise "not found", so that
    /// nobody learns which ids exist among other users' tokens.
    async fn managed_api_token(&self, actor: &User, id: i64) -> Result<Token, CoreError> {
        let not_found = || CoreError::NotFound(format!("API token {id}"));
        let token = self
            .store()
            .token_by_id(id)
            .await?
            .filter(|t| t.kind == TokenKind::Api)
            .filter(|t| matches!(t.status, TokenStatus::Active | TokenStatus::Disabled))
            .ok_or_else(not_found)?;
        let owner = token.user_id.ok_or_else(not_found)?;
        if owner != actor.id && actor.role != Role::SuperAdmin {
            return Err(not_found());
        }
        self.may_manage_tokens_of(actor, owner)?;
        Ok(token)
    }

    /// Gives each token a new secret (64 hex digits), replacing any earlier one; the secrets
    /// are returned once.
    pub async fn generate_api_token_secrets(
        &self,
        actor: &User,
        ids: &[i64],
        origin: &Origin,
    ) -> Result<Vec<(Token, TokenSecret)>, CoreError> {
        let mut tokens = Vec::with_capacity(ids.len());
        for id in ids {
            tokens.push(self.managed_api_token(actor, *id).await?);
        }
        let mut generated = Vec::with_capacity(tokens.len());
        for mut token in tokens {
            let secret = TokenSecret::generate(SecretFormat::Hex);
            if let Some(old) = self
                .store()
                .replace_token_hash(token.id, &secret.hash(), actor.id)
                .await?
            {
                self.inner.cache.evict(&old);
            }
            token.hash = secret.hash();
            token.creator_id = Some(actor.id);
            self.record(AuditKind::TokenIssued, origin, |e| {
                e.subject_user_id = token.user_id;
                e.token_id = Some(token.id);
                e.detail = "API token secret generated".into();
            })
            .await?;
            generated.push((token, secret));
        }
        Ok(generated)
    }

    /// Changes an API token's name, description, status or expiry.
    pub async fn update_api_token(
        &self,
        actor: &User,
        id: i64,
        changes: TokenChanges,
        origin: &Origin,
    ) -> Result<Token, CoreError> {
        let token = self.managed_api_token(actor, id).await?;
        if let Some(description) = &changes.description {
            Self::check_api_token_description(description)?;
        }
        if let Some(name) = &changes.name {
            Self::check_api_token_name(name)?;
            let owner = token.user_id.unwrap_or(actor.id);
            if *name != token.name && self.api_token_name_taken(owner, name).await? {
                return Err(CoreError::Conflict(format!(
                    "API token \"{name}\" of user {owner}"
                )));
            }
        }
        if changes
            .status
            .is_some_and(|s| !matches!(s, TokenStatus::Active | TokenStatus::Disabled))
        {
            return Err(CoreError::InvalidInput(
                "an API token is enabled or disabled".into(),
            ));
        }
        if !changes.is_empty() {
            self.store().update_token(id, &changes).await?;
            self.inner.cache.evict(&token.hash);
            self.record(AuditKind::TokenChanged, origin, |e| {
                e.subject_user_id = token.user_id;
                e.token_id = Some(id);
                e.detail = describe(&changes);
            })
            .await?;
        }
        self.token(id).await
    }

    /// Deletes API tokens, all or none.
    pub async fn delete_api_tokens(
        &self,
        actor: &User,
        ids: &[i64],
        origin: &Origin,
    ) -> Result<Vec<i64>, CoreError> {
        for id in ids {
            self.managed_api_token(actor, *id).await?;
        }
        let deleted = self.store().delete_tokens(ids).await?;
        for (id, hash) in &deleted {
            self.inner.cache.evict(hash);
            self.record(AuditKind::TokenRevoked, origin, |e| {
                e.token_id = Some(*id);
                e.detail = "API token deleted".into();
            })
            .await?;
        }
        Ok(deleted.into_iter().map(|(id, _)| id).collect())
    }

    /// Narrows a search to the API tokens the actor may see: their own, or everyone's for a
    /// super admin. A search that selects or sorts by last access first writes the pending
    /// `last_access` times (the others show them from memory, see `with_pending_use`).
    async fn visible_api_tokens(
        &self,
        actor: &User,
        mut search: TokenSearch,
    ) -> Result<TokenSearch, CoreError> {
        search.kind = Some(TokenKind::Api);
        search.statuses = vec![TokenStatus::Active, TokenStatus::Disabled];
        if actor.role != Role::SuperAdmin {
            search.user_ids = Some(match search.user_ids {
                Some(ids) => ids.into_iter().filter(|id| *id == actor.id).collect(),
                None => vec![actor.id],
            });
        }
        if search.uses(TokenField::LastAccess) {
            if let Err(error) = self.flush_last_access().await {
                tracing::warn!(%error, "could not write last access times before a token search");
            }
        }
        Ok(search)
    }

    /// The tokens with the uses this node noted and has not written yet: a token.get made with
    /// an API token shows its own use without a write on every call.
    fn with_pending_use(&self, mut tokens: Vec<Token>) -> Vec<Token> {
        for token in &mut tokens {
            if let Some(at) = self.inner.last_access.pending(token.id) {
                token.last_access = Some(token.last_access.map_or(at, |stored| stored.max(at)));
            }
        }
        tokens
    }

    pub async fn search_api_tokens(
        &self,
        actor: &User,
        search: TokenSearch,
    ) -> Result<Vec<Token>, CoreError> {
        let search = self.visible_api_tokens(actor, search).await?;
        let tokens = self.store().search_tokens(&search).await?;
        Ok(self.with_pending_use(tokens))
    }

    pub async fn count_api_tokens(
        &self,
        actor: &User,
        search: TokenSearch,
    ) -> Result<u64, CoreError> {
        let search = self.visible_api_tokens(actor, search).await?;
        Ok(self.store().count_tokens(&search).await?)
    }
}

fn describe(changes: &TokenChanges) -> String {
    let mut parts = Vec::new();
    if changes.name.is_some() {
        parts.push("name".to_owned());
    }
    if changes.description.is_some() {
        parts.push("description".to_owned());
    }
    if let Some(status) = changes.status {
        parts.push(format!("status {status}"));
    }
    if changes.expires_at.is_some() {
        parts.push("expiry".to_owned());
    }
    format!("changed: {}", parts.join(", "))
}
