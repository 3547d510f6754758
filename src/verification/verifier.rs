//! The hot path: from a presented secret to a verified caller. Shape and checksum are checked
//! before any lookup; a valid credential seen before costs no database read. The cache is keyed
//! by secret hash and kept true by the change feed (`db::changes`): this instance's own writes
//! drop their entries as they commit, other instances' when the feed is read. While the feed
//! has not been read for longer than the allowed staleness the cache is not trusted: every
//! request is verified from the database. The cache is bounded in count and drops idle
//! entries, so memory follows the credentials in use, not every one ever presented.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use moka::sync::Cache as Bounded;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use super::rate_limit::Lockout;
use super::rate_limit::PassphraseGuard;
use crate::credentials::{secret, CredentialKind, Grants, Passphrase, Prefixes, SecretHash};
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::changes::{Cache, Change};
use crate::db::credentials::{self as repo, CredentialRow};
use crate::db::{self, orgs, DbPool};
use crate::domain::{RequestMeta, Role};
use crate::error::AppError;
use crate::metrics::VerificationMetrics;

/// The code of a wrong-passphrase lock-out, on the bearer path and in introspection answers.
pub const PASSPHRASE_LOCKED: &str = "passphrase_locked";

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

/// How many credentials the cache keeps: above the 100 000 distinct tokens a busy installation
/// cycles through, and about 0.7 KB each, so a flood of distinct valid tokens costs at most
/// this many entries of memory.
pub const CACHE_CAPACITY: u64 = 131_072;
/// A credential unused this long is dropped; its next use reads the database once.
pub const CACHE_IDLE: Duration = Duration::from_secs(600);

/// Verified credentials by secret hash. moka rather than quick_cache: it is maintained, bounds
/// by count with TinyLFU admission (a flood of one-off tokens does not push out the busy ones),
/// expires idle entries itself, and can drop entries by predicate (`invalidate_entries_if`,
/// which `get` honours at once), which `forget_users` and `forget_orgs` need; quick_cache has
/// no time-to-idle.
fn cache(capacity: u64, idle: Duration) -> Bounded<SecretHash, Arc<Known>> {
    Bounded::builder().max_capacity(capacity).time_to_idle(idle).support_invalidation_closures().build()
}

pub struct Verifier {
    cache: Bounded<SecretHash, Arc<Known>>,
    pub metrics: VerificationMetrics,
    passphrases: PassphraseGuard,
    /// The latest drops, numbered: a load that read the database before a drop touching what
    /// it read must not put that into the cache after it. Loads of other credentials go on.
    drops: Mutex<RecentDrops>,
    /// Milliseconds after `started` until which the entries may be used (see `trust_until`).
    trusted_until: AtomicU64,
    started: Instant,
}

impl Verifier {
    /// At most `wrong_passphrases_per_minute` wrong passphrases per credential, then a lock-out.
    /// The cache is not trusted until the change feed has been read once.
    pub fn new(wrong_passphrases_per_minute: u32) -> Self {
        Self::bounded(CACHE_CAPACITY, CACHE_IDLE, wrong_passphrases_per_minute)
    }

    fn bounded(capacity: u64, idle: Duration, wrong_passphrases_per_minute: u32) -> Self {
        Self {
            cache: cache(capacity, idle),
            metrics: VerificationMetrics::default(),
            passphrases: PassphraseGuard::new(wrong_passphrases_per_minute),
            drops: Mutex::new(RecentDrops::default()),
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
            Ok(Outcome::Locked(..)) => PASSPHRASE_LOCKED,
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
        self.cache.get(hash)
    }

    fn millis_since_start(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    fn trusted(&self) -> bool {
        self.millis_since_start(Instant::now()) < self.trusted_until.load(Ordering::Acquire)
    }

    async fn load(&self, pool: &DbPool, hash: SecretHash) -> Result<Option<Arc<Known>>, AppError> {
        let started_after = self.lock_drops().number;
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
        // Checked and inserted under the lock every drop takes: a drop since the read began that
        // touches this credential means what was read may be old, so it is not cached.
        let drops = self.lock_drops();
        if !drops.touched_since(started_after, &known) {
            self.cache.insert(hash, known.clone());
        }
        drop(drops);
        Ok(Some(known))
    }

    /// Drops the entries a change touches: a credential; a person's personal tokens (each acts
    /// with its user's role in its org); an org's credentials (its API-access gate).
    fn forget_changes(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut drops = self.lock_drops();
        drops.record(Some(changes.to_vec()));
        let changes = changes.to_vec();
        // Entries cached before this call that match are never returned again (moka checks the
        // predicate on `get` until its housekeeping has removed them).
        if self
            .cache
            .invalidate_entries_if(move |_, known| changes.iter().any(|c| touches(c, known)))
            .is_err()
        {
            // Only if the cache were built without invalidation closures; never forget less.
            self.cache.invalidate_all();
        }
    }

    fn forget_all(&self) {
        let mut drops = self.lock_drops();
        drops.record(None);
        self.cache.invalidate_all();
    }

    fn lock_drops(&self) -> std::sync::MutexGuard<'_, RecentDrops> {
        self.drops.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Credentials in the cache now (approximate until its pending housekeeping has run).
    pub fn cached_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

/// How many drops a load may overlap before it gives up caching what it read.
const DROPS_KEPT: usize = 256;

/// The last drops, each with its number; `None` drops everything.
#[derive(Default)]
struct RecentDrops {
    number: u64,
    kept: std::collections::VecDeque<(u64, Option<Vec<Change>>)>,
}

impl RecentDrops {
    fn record(&mut self, changes: Option<Vec<Change>>) {
        self.number += 1;
        self.kept.push_back((self.number, changes));
        if self.kept.len() > DROPS_KEPT {
            self.kept.pop_front();
        }
    }

    /// Whether a drop numbered after `number` touches `known` (or may have: drops no longer kept
    /// count as touching it).
    fn touched_since(&self, number: u64, known: &Known) -> bool {
        if self.number == number {
            return false;
        }
        let oldest_kept = self.kept.front().map_or(u64::MAX, |(n, _)| *n);
        if oldest_kept > number + 1 {
            return true;
        }
        self.kept.iter().filter(|(n, _)| *n > number).any(|(_, changes)| match changes {
            None => true,
            Some(changes) => changes.iter().any(|change| touches(change, known)),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str, org_id: &str, owner: Option<&str>) -> Arc<Known> {
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        Arc::new(Known {
            id: id.into(),
            org_id: org_id.into(),
            org_slug: "acme".into(),
            org_name: "Acme".into(),
            org_api_access: true,
            kind: if owner.is_some() { CredentialKind::PersonalToken } else { CredentialKind::ApiKey },
            name: id.into(),
            grants: Grants::from_stored("read"),
            passphrase_hash: None,
            active: true,
            expires_at: None,
            revoked_at: None,
            created_at: at,
            owner_user_id: owner.map(str::to_owned),
            owner_role: owner.map(|_| Role::Member),
            rate_limit_per_minute: None,
            verified_passphrase: Mutex::new(None),
        })
    }

    /// A fresh random secret's hash.
    fn hash() -> SecretHash {
        secret::generate_prefixed("tst_").hash()
    }

    /// A verifier whose cache is trusted, as after the change feed's first read.
    fn trusted(capacity: u64, idle: Duration) -> Verifier {
        let verifier = Verifier::bounded(capacity, idle, 10);
        verifier.trust_until(Instant::now() + Duration::from_secs(3600));
        verifier
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity() {
        let verifier = trusted(100, CACHE_IDLE);
        for n in 0..5_000 {
            verifier.cache.insert(hash(), known(&format!("c{n}"), "o1", None));
        }
        assert!(verifier.cached_count() <= 100, "{}", verifier.cached_count());
    }

    #[test]
    fn idle_entries_expire_and_used_ones_stay() {
        let verifier = trusted(100, Duration::from_millis(300));
        let (busy, idle) = (hash(), hash());
        verifier.cache.insert(busy, known("busy", "o1", None));
        verifier.cache.insert(idle, known("idle", "o1", None));
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(verifier.cached(&busy).is_some());
        }
        assert!(verifier.cached(&idle).is_none());
        assert_eq!(verifier.cached_count(), 1);
    }

    #[test]
    fn entries_are_forgotten_by_credential_user_and_org() {
        let verifier = trusted(CACHE_CAPACITY, CACHE_IDLE);
        let entries = [
            (hash(), known("k1", "o1", None)),
            (hash(), known("k2", "o1", None)),
            (hash(), known("p3", "o2", Some("u1"))),
            (hash(), known("p4", "o2", Some("u2"))),
            (hash(), known("k5", "o3", None)),
        ];
        for (h, k) in &entries {
            verifier.cache.insert(*h, k.clone());
        }
        let present = |v: &Verifier| entries.iter().map(|(h, _)| v.cached(h).is_some()).collect::<Vec<_>>();
        verifier.forget(&[Change::Credential("k2".into())]);
        assert_eq!(present(&verifier), [true, false, true, true, true]);
        verifier.forget(&[Change::User("u1".into())]);
        assert_eq!(present(&verifier), [true, false, false, true, true]);
        verifier.forget(&[Change::Org("o1".into())]);
        assert_eq!(present(&verifier), [false, false, false, true, true]);
        verifier.forget(&[]);
        assert_eq!(present(&verifier), [false, false, false, true, true], "nothing named, nothing dropped");
        // An entry cached again after a forget is the fresh read, and stays.
        verifier.cache.insert(entries[1].0, known("k2", "o1", None));
        assert!(verifier.cached(&entries[1].0).is_some());
        verifier.forget_all();
        assert_eq!(verifier.cached_count(), 0);
    }

    #[test]
    fn a_load_skips_the_cache_only_when_a_drop_since_it_began_touches_it() {
        let (k1, p3) = (known("k1", "o1", None), known("p3", "o2", Some("u1")));
        let mut drops = RecentDrops::default();
        let began = drops.number;
        assert!(!drops.touched_since(began, &k1), "no drop, cached");
        drops.record(Some(vec![Change::Credential("k2".into()), Change::Org("o9".into())]));
        assert!(!drops.touched_since(began, &k1), "another credential's drop does not matter");
        drops.record(Some(vec![Change::User("u1".into())]));
        assert!(drops.touched_since(began, &p3) && !drops.touched_since(began, &k1));
        let later = drops.number;
        drops.record(None);
        assert!(drops.touched_since(later, &k1), "a drop of everything touches every load");
        for _ in 0..DROPS_KEPT {
            drops.record(Some(vec![]));
        }
        assert!(drops.touched_since(began, &k1), "drops no longer kept count as touching");
    }
}
