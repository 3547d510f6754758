//! The hot path: from a presented secret to a verified caller. Shape and checksum are checked
//! before any lookup; a valid credential seen before costs no database read. The cache is keyed
//! by secret hash and kept true by the change feed (`db::changes`): this instance's own writes
//! drop their entries as they commit, other instances' when the feed is read. While the feed
//! has not been read for longer than the allowed staleness the cache is not trusted: every
//! request is verified from the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chrono::NaiveDateTime;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use super::rate_limit::Lockout;
use super::rate_limit::PassphraseGuard;
use crate::auth::{RequestMeta, Role};
use crate::credentials::{secret, CredentialKind, Grants, Passphrase, Prefixes, SecretHash};
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::changes::{Cache, Change};
use crate::db::credentials::{self as repo, CredentialRow};
use crate::db::{self, orgs, DbPool};
use crate::error::AppError;
use crate::metrics::VerificationMetrics;

/// A credential as the hot path needs it.
#[derive(Debug)]
pub struct Known {
    pub id: String,
    pub org_id: String,
    pub org_slug: String,
    pub org_name: String,
    /// The org's API-access gate as last read: when off, its API keys are refused.
    pub org_api_access: bool,
    pub kind: CredentialKind,
    pub name: String,
    pub grants: Grants,
    pub passphrase_hash: Option<String>,
    pub active: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub owner_user_id: Option<String>,
    /// For a personal token: its user's role in the bound org now; None once they left.
    pub owner_role: Option<Role>,
    pub rate_limit_per_minute: Option<u32>,
    /// SHA-256 of the last passphrase that verified, so argon2 runs once, not per request.
    verified_passphrase: Mutex<Option<[u8; 32]>>,
}

impl Known {
    fn from_row(row: CredentialRow, org: repo::OrgOfCredential, owner_role: Option<Role>) -> Option<Self> {
        Some(Self {
            kind: CredentialKind::from_db(&row.kind)?,
            grants: Grants::from_stored(&row.grants),
            rate_limit_per_minute: row.rate_limit_per_minute.and_then(|n| u32::try_from(n).ok()),
            id: row.id,
            org_id: row.org_id,
            org_slug: org.slug,
            org_name: org.name,
            org_api_access: org.api_access,
            name: row.name,
            passphrase_hash: row.passphrase_hash,
            active: row.active,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            created_at: row.created_at,
            owner_user_id: row.owner_user_id,
            owner_role,
            verified_passphrase: Mutex::new(None),
        })
    }
}

/// Why a presented credential was refused; each maps to a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    Unknown,
    Revoked,
    Expired,
    Inactive,
    NotAMember,
    PassphraseRequired,
    WrongPassphrase,
    /// An API key of an org whose API access the operator turned off.
    ApiAccessDisabled,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_token",
            Self::Unknown => "unknown_token",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::Inactive => "inactive",
            Self::NotAMember => "not_a_member",
            Self::PassphraseRequired => "passphrase_required",
            Self::WrongPassphrase => "wrong_passphrase",
            Self::ApiAccessDisabled => "api_access_disabled",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Malformed => "The credential is malformed.",
            Self::Unknown => "The credential is not known.",
            Self::Revoked => "The credential has been revoked.",
            Self::Expired => "The credential has expired.",
            Self::Inactive => "The credential is inactive.",
            Self::NotAMember => "The token's user is no longer a member of its organization.",
            Self::PassphraseRequired => "The credential needs its passphrase in X-Tessera-Passphrase.",
            Self::WrongPassphrase => "The passphrase is wrong.",
            Self::ApiAccessDisabled => "API access is not enabled for this account.",
        }
    }

    /// A known credential was presented: its failed-attempt count goes up.
    pub fn names_a_credential(self) -> bool {
        !matches!(self, Self::Malformed | Self::Unknown)
    }

    /// Whether the refusal is a failed attempt of the caller's. A gated-off API key is the
    /// operator's decision, not the caller's mistake: nothing is counted for it.
    pub fn is_counted(self) -> bool {
        self != Self::ApiAccessDisabled
    }
}

pub enum Outcome {
    Valid(Arc<Known>),
    /// The credential, when one was found, for failed-attempt counting.
    Refused(Rejection, Option<Arc<Known>>),
    Locked(Lockout, Arc<Known>),
}

pub struct Verifier {
    cache: RwLock<HashMap<SecretHash, Arc<Known>>>,
    pub metrics: VerificationMetrics,
    passphrases: PassphraseGuard,
    /// Bumped by every drop: a load that read the database before a drop must not put what
    /// it read into the cache after it.
    generation: AtomicU64,
    /// Milliseconds after `started` until which the entries may be used (see `trust_until`).
    trusted_until: AtomicU64,
    started: Instant,
}

impl Verifier {
    /// At most `wrong_passphrases_per_minute` wrong passphrases per credential, then a lock-out.
    /// The cache is not trusted until the change feed has been read once.
    pub fn new(wrong_passphrases_per_minute: u32) -> Self {
        Self {
            cache: RwLock::default(),
            metrics: VerificationMetrics::default(),
            passphrases: PassphraseGuard::new(wrong_passphrases_per_minute),
            generation: AtomicU64::new(0),
            trusted_until: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Every verification is counted by its outcome, here and only here.
    pub async fn verify(
        &self,
        pool: &DbPool,
        prefixes: &Prefixes,
        presented: &str,
        passphrase: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Outcome, AppError> {
        let outcome = self.verify_uncounted(pool, prefixes, presented, passphrase, now).await;
        self.metrics.outcome(match &outcome {
            Ok(Outcome::Valid(_)) => "valid",
            Ok(Outcome::Refused(rejection, _)) => rejection.code(),
            Ok(Outcome::Locked(..)) => crate::api::error::PASSPHRASE_LOCKED,
            Err(_) => "error",
        });
        outcome
    }

    async fn verify_uncounted(
        &self,
        pool: &DbPool,
        prefixes: &Prefixes,
        presented: &str,
        passphrase: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Outcome, AppError> {
        let Ok((_, plain)) = secret::parse(presented, prefixes) else {
            return Ok(Outcome::Refused(Rejection::Malformed, None));
        };
        let hash = plain.hash();
        let cached = self.cached(&hash);
        self.metrics.cache(cached.is_some());
        let known = match cached {
            Some(known) => known,
            None => match self.load(pool, hash).await? {
                Some(known) => known,
                None => return Ok(Outcome::Refused(Rejection::Unknown, None)),
            },
        };
        if let Err(rejection) = check_state(&known, now) {
            return Ok(Outcome::Refused(rejection, Some(known)));
        }
        // Checked before argon2, so a locked credential costs no hashing and the right
        // passphrase does not end a lock-out early.
        if known.passphrase_hash.is_some() {
            if let Some(lockout) = self.passphrases.lockout(&known.id) {
                return Ok(Outcome::Locked(lockout, known));
            }
        }
        Ok(match check_passphrase(known.clone(), passphrase).await? {
            Ok(()) => Outcome::Valid(known),
            Err(Rejection::WrongPassphrase) => match self.passphrases.wrong(&known.id) {
                Some(lockout) => Outcome::Locked(lockout, known),
                None => Outcome::Refused(Rejection::WrongPassphrase, Some(known)),
            },
            Err(rejection) => Outcome::Refused(rejection, Some(known)),
        })
    }

    /// Whether `presented` is a credential already in the cache: known good recently, so it
    /// may pass where an unknown one would cost a database lookup.
    pub fn has_cached(&self, prefixes: &Prefixes, presented: &str) -> bool {
        secret::parse(presented, prefixes).is_ok_and(|(_, plain)| self.cached(&plain.hash()).is_some())
    }

    fn cached(&self, hash: &SecretHash) -> Option<Arc<Known>> {
        if !self.trusted() {
            return None;
        }
        self.cache.read().ok()?.get(hash).cloned()
    }

    fn millis_since_start(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    fn trusted(&self) -> bool {
        self.millis_since_start(Instant::now()) < self.trusted_until.load(Ordering::Acquire)
    }

    async fn load(&self, pool: &DbPool, hash: SecretHash) -> Result<Option<Arc<Known>>, AppError> {
        let generation = self.generation.load(Ordering::Acquire);
        let hex = hash.to_hex();
        let found = db::run(pool, move |conn| {
            let Some((row, org)) = repo::find_by_hash(conn, &hex)? else {
                return Ok(None);
            };
            let role = match &row.owner_user_id {
                Some(user_id) => orgs::role_in(conn, &row.org_id, user_id)?,
                None => None,
            };
            Ok(Some((row, org, role)))
        })
        .await?;
        let Some(known) = found.and_then(|(row, org, role)| Known::from_row(row, org, role)) else {
            return Ok(None);
        };
        let known = Arc::new(known);
        if let Ok(mut cache) = self.cache.write() {
            // Checked under the write lock, which every drop takes after bumping the number.
            if self.generation.load(Ordering::Acquire) == generation {
                cache.insert(hash, known.clone());
            }
        }
        Ok(Some(known))
    }

    /// Drops the entries a change touches: a credential; a person's personal tokens (each acts
    /// with its user's role in its org); an org's credentials (its API-access gate).
    fn forget_changes(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.write() {
            cache.retain(|_, known| !changes.iter().any(|change| touches(change, known)));
        }
    }

    fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }
}

fn touches(change: &Change, known: &Known) -> bool {
    match change {
        Change::Credential(id) => &known.id == id,
        Change::User(user_id) => known.owner_user_id.as_ref() == Some(user_id),
        Change::Org(org_id) => &known.org_id == org_id,
    }
}

/// Only the change feed and the write path (`db::run`) drop entries: there is no other way in.
impl Cache for Verifier {
    fn forget(&self, changes: &[Change]) {
        self.forget_changes(changes);
    }

    fn trust_until(&self, deadline: Instant) {
        if !self.trusted() {
            // Entries from before a gap in reading may have missed rows since pruned.
            self.forget_all();
        }
        self.trusted_until.store(self.millis_since_start(deadline), Ordering::Release);
    }
}

/// The audit action of a passphrase lock-out. Only access tokens carry a passphrase.
pub const PASSPHRASE_LOCKOUT_ACTION: &str = "access_token.passphrase_lockout";

/// One audit entry per lock-out, in the credential's org; `via` is `bearer` or `introspection`.
pub async fn audit_lockout(
    pool: &DbPool,
    known: &Known,
    lockout: Lockout,
    limit_per_minute: u32,
    via: &'static str,
    request: RequestMeta,
    now: NaiveDateTime,
) -> Result<(), AppError> {
    let actor = Actor {
        user_id: None,
        credential_id: None,
        label: "unauthenticated client".to_owned(),
        ip: request.ip,
        user_agent: request.user_agent,
    };
    let (org_id, id, name) = (known.org_id.clone(), known.id.clone(), known.name.clone());
    let details = serde_json::json!({
        "wrong_passphrases_per_minute": limit_per_minute,
        "locked_seconds": lockout.retry_after,
        "via": via,
    });
    db::run(pool, move |conn| {
        let event = AuditEvent {
            org_id: Some(&org_id),
            action: PASSPHRASE_LOCKOUT_ACTION,
            target_type: Some(CredentialKind::AccessToken.as_str()),
            target_id: Some(&id),
            target_label: Some(&name),
            details,
        };
        Ok(audit::record(conn, &actor, event, now)?)
    })
    .await
}

/// Revoked, expired and inactive credentials are refused before anything is counted.
fn check_state(known: &Known, now: NaiveDateTime) -> Result<(), Rejection> {
    if known.revoked_at.is_some_and(|at| at <= now) {
        return Err(Rejection::Revoked);
    }
    if known.expires_at.is_some_and(|at| at <= now) {
        return Err(Rejection::Expired);
    }
    if !known.active {
        return Err(Rejection::Inactive);
    }
    if known.kind == CredentialKind::PersonalToken && known.owner_role.is_none() {
        return Err(Rejection::NotAMember);
    }
    // Only API keys hang on the gate: access and personal tokens of the org keep working.
    if known.kind == CredentialKind::ApiKey && !known.org_api_access {
        return Err(Rejection::ApiAccessDisabled);
    }
    Ok(())
}

/// argon2 runs on the blocking pool, and only until a passphrase has verified once.
async fn check_passphrase(
    known: Arc<Known>,
    presented: Option<&str>,
) -> Result<Result<(), Rejection>, AppError> {
    let Some(phc) = known.passphrase_hash.clone() else {
        return Ok(Ok(()));
    };
    let Some(presented) = presented else {
        return Ok(Err(Rejection::PassphraseRequired));
    };
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let remembered = known.verified_passphrase.lock().ok().and_then(|v| *v);
    if remembered.is_some_and(|r| bool::from(r.ct_eq(&digest))) {
        return Ok(Ok(()));
    }
    let presented = presented.to_owned();
    let verified = actix_web::web::block(move || Passphrase::parse(&presented).is_ok_and(|p| p.verify(&phc)))
        .await
        .map_err(AppError::internal)?;
    if !verified {
        return Ok(Err(Rejection::WrongPassphrase));
    }
    if let Ok(mut slot) = known.verified_passphrase.lock() {
        *slot = Some(digest);
    }
    Ok(Ok(()))
}
