//! Per-credential request limits (GCRA, from the governor crate), a budget of failed
//! authentications per client address, and a budget of wrong passphrases per credential.
//!
//! Every map here is a bounded moka cache whose entries expire once idle for longer than a
//! budget takes to refill: a limiter dropped then was full again, so dropping it changes
//! nothing, and memory follows the credentials and addresses active in the last minute. Past
//! the capacity, moka's frequency-based admission keeps the busy keys (those a limit is
//! actually holding back) and turns away one-off ones.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Credentials or addresses tracked at most, per map.
const TRACKED_MAX: u64 = 131_072;
/// Every budget here is per minute: idle this long, a limiter is full again.
const REFILLED: Duration = Duration::from_secs(61);

/// A map whose entries go once unused for `idle`, or once `lasting` has passed since written.
fn bounded<K, V>(capacity: u64, idle: Option<Duration>, lasting: Option<Duration>) -> Cache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let builder = Cache::builder().max_capacity(capacity);
    match (idle, lasting) {
        (Some(idle), _) => builder.time_to_idle(idle).build(),
        (None, Some(lasting)) => builder.time_to_live(lasting).build(),
        (None, None) => builder.build(),
    }
}

fn limiter_per_minute(n: u32) -> Arc<Limiter> {
    Arc::new(RateLimiter::direct(per_minute(n)).with_middleware::<StateInformationMiddleware>())
}

/// Failed authentications allowed per address per minute.
pub const FAILED_AUTH_PER_MINUTE: u32 = 30;

/// How long a credential stays locked once its wrong-passphrase budget is spent: the time the
/// budget takes to refill, so a guesser gets at most the budget per minute.
const PASSPHRASE_LOCKOUT: Duration = Duration::from_secs(60);

/// What the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    pub reset_seconds: u64,
}

impl RateInfo {
    /// The `X-RateLimit-*` headers, on whatever answer the request gets, 429 included.
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        [
            (HeaderName::from_static("x-ratelimit-limit"), HeaderValue::from(self.limit)),
            (HeaderName::from_static("x-ratelimit-remaining"), HeaderValue::from(self.remaining)),
            (HeaderName::from_static("x-ratelimit-reset"), HeaderValue::from(self.reset_seconds)),
        ]
    }
}

pub struct RateLimits {
    /// Each credential's limiter, with the per-minute limit it was made for.
    per_credential: Cache<String, (u32, Arc<Limiter>)>,
    failures: Cache<IpAddr, Arc<Limiter>>,
    /// Addresses whose failure budget is spent, and until when: checked before any database
    /// lookup, so a guessing client costs the database nothing once it is over the limit.
    blocked: Cache<IpAddr, Instant>,
    clock: DefaultClock,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::tracking(TRACKED_MAX)
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    fn tracking(capacity: u64) -> Self {
        Self {
            per_credential: bounded(capacity, Some(REFILLED), None),
            failures: bounded(capacity, Some(REFILLED), None),
            // A block lasts at most the budget's refill time.
            blocked: bounded(capacity, None, Some(REFILLED)),
            clock: DefaultClock::default(),
        }
    }

    /// One request of a credential: `Ok` with the header values, or `Err(retry_after_seconds)`.
    pub fn check(&self, credential_id: &str, limit: u32) -> Result<RateInfo, u64> {
        let limiter = self.limiter(credential_id, limit);
        match limiter.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // Each used slot comes back after 60/limit seconds.
                let reset_seconds =
                    (u64::from(limit - remaining.min(limit)) * 60).div_ceil(u64::from(limit.max(1)));
                Ok(RateInfo { limit, remaining, reset_seconds })
            }
            Err(not_until) => Err(not_until.wait_time_from(self.clock.now()).as_secs().max(1)),
        }
    }

    /// The hot path's read is a lookup by reference; only a credential's first request (or a
    /// changed limit) allocates, and concurrent first requests share one limiter.
    fn limiter(&self, credential_id: &str, limit: u32) -> Arc<Limiter> {
        match self.per_credential.get(credential_id) {
            Some((quota, limiter)) if quota == limit => limiter,
            Some(_) => {
                let limiter = limiter_per_minute(limit);
                self.per_credential.insert(credential_id.to_owned(), (limit, limiter.clone()));
                limiter
            }
            None => {
                self.per_credential
                    .entry_by_ref(credential_id)
                    .or_insert_with(|| (limit, limiter_per_minute(limit)))
                    .into_value()
                    .1
            }
        }
    }

    /// Counts a failed authentication from `ip`; `Err(retry_after)` once the budget is spent.
    pub fn failed_attempt(&self, ip: IpAddr) -> Result<(), u64> {
        let limiter = self.failures.get_with(ip, || limiter_per_minute(FAILED_AUTH_PER_MINUTE));
        let retry_after = match limiter.check() {
            Ok(_) => return Ok(()),
            Err(not_until) => not_until.wait_time_from(self.clock.now()).as_secs().max(1),
        };
        self.blocked.insert(ip, Instant::now() + Duration::from_secs(retry_after));
        Err(retry_after)
    }

    /// Credentials with a limiter now (after moka's pending housekeeping).
    pub fn tracked_credentials(&self) -> u64 {
        self.per_credential.run_pending_tasks();
        self.per_credential.entry_count()
    }

    /// `Some(retry_after)` while `ip` has spent its budget of failed authentications.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let until = self.blocked.get(&ip)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(left.as_secs().max(1))
    }
}

/// Too many wrong passphrases: the credential is refused, with the right one too, for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub retry_after: u64,
    /// This attempt began the lock-out (it is audited once, not per attempt).
    pub started: bool,
}

/// Wrong passphrases per credential. Memory stays bounded: only credentials with a wrong
/// passphrase in the last minute are tracked, and only locked ones are kept in `locked`, each
/// for one lock-out.
pub struct PassphraseGuard {
    wrong_per_minute: u32,
    wrong: Cache<String, Arc<Limiter>>,
    locked: Cache<String, Instant>,
}

impl Default for PassphraseGuard {
    fn default() -> Self {
        Self::new(crate::catalog::DEFAULT_WRONG_PASSPHRASES_PER_MINUTE)
    }
}

impl PassphraseGuard {
    pub fn new(wrong_per_minute: u32) -> Self {
        Self {
            wrong_per_minute,
            wrong: bounded(TRACKED_MAX, Some(REFILLED), None),
            locked: bounded(TRACKED_MAX, None, Some(PASSPHRASE_LOCKOUT + Duration::from_secs(1))),
        }
    }

    /// `Some(retry_after_seconds)` while the credential is locked out.
    pub fn locked(&self, credential_id: &str) -> Option<u64> {
        let left = self.locked.get(credential_id)?.checked_duration_since(Instant::now())?;
        Some(seconds_rounded_up(left))
    }

    /// `Some(lockout)` while the credential is locked out.
    pub fn lockout(&self, credential_id: &str) -> Option<Lockout> {
        self.locked(credential_id).map(|retry_after| Lockout { retry_after, started: false })
    }

    /// Counts a wrong passphrase; `Some` once the budget is spent, `started` for the attempt
    /// that began the lock-out.
    pub fn wrong(&self, credential_id: &str) -> Option<Lockout> {
        let limiter = self
            .wrong
            .entry_by_ref(credential_id)
            .or_insert_with(|| limiter_per_minute(self.wrong_per_minute));
        if limiter.value().check().is_ok() {
            return None;
        }
        let now = Instant::now();
        // Inserted only if absent, atomically: of concurrent attempts, exactly one starts it.
        let entry = self.locked.entry_by_ref(credential_id).or_insert_with(|| now + PASSPHRASE_LOCKOUT);
        match entry.value().checked_duration_since(now) {
            _ if entry.is_fresh() => {
                Some(Lockout { retry_after: seconds_rounded_up(PASSPHRASE_LOCKOUT), started: true })
            }
            // A concurrent request started this lock-out a moment ago.
            Some(left) => Some(Lockout { retry_after: seconds_rounded_up(left), started: false }),
            // A lock-out that ended but is not yet expired in the cache: a new one begins.
            None => {
                self.locked.insert(credential_id.to_owned(), now + PASSPHRASE_LOCKOUT);
                Some(Lockout { retry_after: seconds_rounded_up(PASSPHRASE_LOCKOUT), started: true })
            }
        }
    }
}

fn seconds_rounded_up(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_and_the_limit_refuses() {
        let limits = RateLimits::default();
        let first = limits.check("c1", 3).unwrap();
        assert_eq!((first.limit, first.remaining), (3, 2));
        assert_eq!(limits.check("c1", 3).unwrap().remaining, 1);
        assert_eq!(limits.check("c1", 3).unwrap().remaining, 0);
        let retry = limits.check("c1", 3).unwrap_err();
        assert!((1..=20).contains(&retry), "{retry}");
        assert_eq!(limits.check("c2", 3).unwrap().remaining, 2, "limits are per credential");
    }

    #[test]
    fn a_changed_limit_takes_effect() {
        let limits = RateLimits::default();
        limits.check("c1", 1).unwrap();
        assert!(limits.check("c1", 1).is_err());
        assert_eq!(limits.check("c1", 5).unwrap().remaining, 4);
    }

    #[test]
    fn limiters_are_kept_for_a_bounded_number_of_credentials() {
        let limits = RateLimits::tracking(1_000);
        let mut busy_allowed = 0;
        for n in 0..20_000 {
            limits.check(&format!("one-off {n}"), 100).unwrap();
            if n % 8 == 0 && limits.check("busy", 100).is_ok() {
                busy_allowed += 1;
            }
        }
        assert!(limits.tracked_credentials() <= 1_000, "{}", limits.tracked_credentials());
        // 2 500 attempts: a limiter dropped and made anew would have let another 100 through.
        assert!((100..110).contains(&busy_allowed), "the busy credential's limiter was kept: {busy_allowed}");
    }

    #[test]
    fn failure_budgets_are_kept_for_a_bounded_number_of_addresses() {
        let limits = RateLimits::tracking(1_000);
        for n in 0..5_000u32 {
            let ip = IpAddr::from(std::net::Ipv6Addr::from(u128::from(n) << 64));
            for _ in 0..=FAILED_AUTH_PER_MINUTE {
                let _ = limits.failed_attempt(ip);
            }
        }
        limits.failures.run_pending_tasks();
        limits.blocked.run_pending_tasks();
        for tracked in [limits.failures.entry_count(), limits.blocked.entry_count()] {
            assert!(tracked <= 1_000, "{tracked}");
        }
    }

    #[test]
    fn failed_attempts_are_budgeted_per_address() {
        let limits = RateLimits::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..FAILED_AUTH_PER_MINUTE {
            limits.failed_attempt(ip).unwrap();
        }
        assert_eq!(limits.blocked(ip), None, "not blocked before the budget is spent");
        assert!(limits.failed_attempt(ip).is_err());
        assert!(limits.blocked(ip).is_some_and(|s| s >= 1));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.failed_attempt(other).is_ok());
        assert_eq!(limits.blocked(other), None);
    }

    #[test]
    fn wrong_passphrases_lock_a_credential_once_and_only_that_one() {
        let guard = PassphraseGuard::new(3);
        for _ in 0..3 {
            assert_eq!(guard.wrong("c1"), None);
        }
        assert_eq!(guard.locked("c1"), None, "the budget itself is allowed");
        let started = guard.wrong("c1").unwrap();
        assert!(started.started && (59..=60).contains(&started.retry_after), "{started:?}");
        let during = guard.lockout("c1").unwrap();
        assert!(!during.started && (1..=60).contains(&during.retry_after), "{during:?}");
        assert_eq!(guard.locked("c2"), None, "per credential");
        assert_eq!(guard.wrong("c2"), None);
    }
}
