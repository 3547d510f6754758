//! The credential rules, once, for every caller: a console session and a personal access token
//! go through these same functions. Permission checks live here, not in the presenters.

use chrono::TimeDelta;

use super::inputs::{Grace, ValidCreate, ValidEdit};
use super::tab::API_ACCESS_DISABLED;
use crate::credentials::{cap_refusal, replacement_expiry, secret, CredentialKind, PlainSecret};
use crate::db::audit::Actor;
use crate::db::credentials::{
    self as repo, CreateRefusal, CredentialRow, EditOutcome, KeyChanges, NewCredential, Replacement,
    RevokeOutcome, RotateOutcome,
};
use crate::db::orgs::Org;
use crate::db::{self, new_id};
use crate::domain::Access;
use crate::error::AppError;
use crate::state::AppState;

/// Someone acting in an org: from a session (a member, or an operator looking in) or from a
/// personal access token (always a member).
pub struct Acting {
    pub org: Org,
    pub access: Access,
    pub user_id: String,
    pub actor: Actor,
}

impl Acting {
    /// Every write in the org passes here first: an operator outside the org is refused
    /// whatever the write, then the role decides.
    pub fn require_manage(&self) -> Result<(), AppError> {
        self.require_member()?;
        if self.access.can_manage_credentials() {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "Your role in {} ({}) cannot change credentials.",
                self.org.name,
                self.access.label()
            )))
        }
    }

    /// Writes need membership: a platform operator who is not a member only reads.
    pub fn require_member(&self) -> Result<(), AppError> {
        match self.access {
            Access::Member(_) => Ok(()),
            Access::Operator => Err(AppError::Forbidden(format!(
                "You are viewing {} as a platform operator. You are not a member: changes are disabled.",
                self.org.name
            ))),
        }
    }

    /// The API-access gate: when an operator has closed it, no API key is minted.
    pub fn gate_closed(&self, kind: CredentialKind) -> bool {
        kind == CredentialKind::ApiKey && !self.org.api_access
    }

    /// Anyone in the org may mint a personal token for themselves: it acts with their own role.
    pub fn require_mint(&self, kind: CredentialKind) -> Result<(), AppError> {
        self.require_member()?;
        if kind == CredentialKind::PersonalToken {
            return Ok(());
        }
        self.require_manage()?;
        if self.gate_closed(kind) {
            return Err(AppError::Forbidden(API_ACCESS_DISABLED.into()));
        }
        Ok(())
    }
}

pub fn plural(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::AccessToken => "access tokens",
        CredentialKind::ApiKey => "API keys",
        CredentialKind::PersonalToken => "personal access tokens",
    }
}

fn noun(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::AccessToken => "token",
        CredentialKind::ApiKey => "key",
        CredentialKind::PersonalToken => "personal token",
    }
}

/// A refusal to show next to a field (`form` for the whole form); nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

pub struct Minted {
    pub id: String,
    pub name: String,
    pub secret: PlainSecret,
}

pub async fn create(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    valid: ValidCreate,
) -> Result<Result<Minted, Refusal>, AppError> {
    acting.require_mint(kind)?;
    let catalog = &state.settings.catalog;
    let prefix_len = catalog.prefixes.get(kind).len();
    let plain = secret::generate(kind, &catalog.prefixes);
    let cap = match kind {
        CredentialKind::PersonalToken => catalog.personal_tokens_per_person,
        _ => catalog.plans.cap(acting.org.plan(), acting.org.cap_override()),
    };
    let now = state.clock.now();
    let details = serde_json::json!({
        "grants": valid.grants.iter().collect::<Vec<_>>(),
        "expires_at": valid.expires_at,
        "passphrase": valid.passphrase.is_some(),
        "active": valid.active,
        "display_prefix": plain.display_prefix(prefix_len),
    });
    let mut new = NewCredential {
        id: new_id(),
        org_id: acting.org.id.clone(),
        kind: kind.as_str().to_owned(),
        name: valid.name.as_str().to_owned(),
        description: valid.description,
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(prefix_len),
        grants: valid.grants.to_stored(),
        passphrase_hash: None,
        active: valid.active,
        rate_limit_per_minute: None,
        expires_at: valid.expires_at,
        created_at: now,
        created_by: acting.user_id.clone(),
        owner_user_id: (kind == CredentialKind::PersonalToken).then(|| acting.user_id.clone()),
        rotated_from: None,
    };
    let (id, name) = (new.id.clone(), new.name.clone());
    let passphrase = valid.passphrase;
    let actor = acting.actor.clone();
    let outcome = db::run(&state.pool, move |conn| {
        // argon2 is slow on purpose; this closure already runs off the async workers.
        new.passphrase_hash = passphrase
            .map(|p| p.hash())
            .transpose()
            .map_err(|e| AppError::internal(format!("passphrase hashing: {e}")))?;
        Ok(repo::create(conn, &new, cap, &actor, details, now)?)
    })
    .await?;
    Ok(match outcome {
        Ok(()) => Ok(Minted { id, name, secret: plain }),
        Err(CreateRefusal::CapReached) if kind == CredentialKind::PersonalToken => Err(Refusal {
            field: "form",
            message: format!(
                "You already have {cap} live personal access tokens, the most one person may have. \
                 Revoke one to create another."
            ),
        }),
        Err(CreateRefusal::CapReached) => {
            Err(Refusal { field: "form", message: cap_refusal(acting.org.plan(), cap, plural(kind)) })
        }
        // Only the person's own names: another person's token names never show through.
        Err(CreateRefusal::NameTaken) if kind == CredentialKind::PersonalToken => Err(Refusal {
            field: "name",
            message: "You already have an active personal token with this name.".to_owned(),
        }),
        Err(CreateRefusal::NameTaken) => Err(Refusal {
            field: "name",
            message: format!("An active {} with this name already exists.", noun(kind)),
        }),
    })
}

pub async fn revoke(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
) -> Result<RevokeOutcome, AppError> {
    acting.require_manage()?;
    revoke_unchecked(state, acting, kind, id).await
}

/// Revocation after the caller's own check (a person revoking their own personal token).
pub async fn revoke_unchecked(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
) -> Result<RevokeOutcome, AppError> {
    let (org_id, actor, now, owned_id) =
        (acting.org.id.clone(), acting.actor.clone(), state.clock.now(), id.to_owned());
    // The next request with this credential gets 401, on this instance at once (`db::run`
    // drops what the revocation's change-feed row names).
    db::run(&state.pool, move |conn| Ok(repo::revoke(conn, &org_id, kind, &owned_id, &actor, now)?)).await
}

pub enum Rotated {
    Done { name: String, id: String, secret: PlainSecret, grace: Grace },
    Refused(&'static str),
    NotFound,
}

pub async fn rotate(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
    grace: Grace,
) -> Result<Rotated, AppError> {
    acting.require_mint(kind)?;
    let catalog = &state.settings.catalog;
    let plain = secret::generate(kind, &catalog.prefixes);
    let replacement = Replacement {
        id: new_id(),
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(catalog.prefixes.get(kind).len()),
        created_by: acting.user_id.clone(),
    };
    let new_id = replacement.id.clone();
    let (org_id, actor, now, max_days) =
        (acting.org.id.clone(), acting.actor.clone(), state.clock.now(), acting.org.max_lifetime_days());
    let expiry = move |old: &CredentialRow| replacement_expiry(old.created_at, old.expires_at, now, max_days);
    let owned_id = id.to_owned();
    let grace_period: TimeDelta = grace.duration();
    let outcome = db::run(&state.pool, move |conn| {
        Ok(repo::rotate(conn, &org_id, kind, &owned_id, replacement, grace_period, expiry, &actor, now)?)
    })
    .await?;
    Ok(match outcome {
        RotateOutcome::NotFound => Rotated::NotFound,
        RotateOutcome::Refused(why) => Rotated::Refused(why),
        RotateOutcome::Rotated { old, .. } => {
            Rotated::Done { name: old.name, id: new_id, secret: plain, grace }
        }
    })
}

pub async fn edit(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
    valid: ValidEdit,
) -> Result<Result<(), Refusal>, AppError> {
    acting.require_manage()?;
    let changes = KeyChanges {
        name: valid.name.as_str().to_owned(),
        description: valid.description,
        grants: valid.grants.to_stored(),
        expires_at: valid.expires_at,
        active: valid.active,
    };
    let (org_id, owned_id, actor, now) =
        (acting.org.id.clone(), id.to_owned(), acting.actor.clone(), state.clock.now());
    let outcome = db::run(&state.pool, move |conn| {
        Ok(repo::edit(conn, &org_id, kind, &owned_id, &changes, &actor, now)?)
    })
    .await?;
    Ok(match outcome {
        EditOutcome::Edited => Ok(()),
        EditOutcome::NotFound => return Err(AppError::NotFound),
        EditOutcome::NameTaken => Err(Refusal {
            field: "name",
            message: format!("An active {} with this name already exists.", noun(kind)),
        }),
        EditOutcome::Refused(why) => Err(Refusal { field: "form", message: why.to_owned() }),
    })
}

pub async fn find(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
) -> Result<CredentialRow, AppError> {
    let (org_id, id) = (acting.org.id.clone(), id.to_owned());
    db::run(&state.pool, move |conn| repo::find(conn, &org_id, kind, &id)?.ok_or(AppError::NotFound)).await
}
