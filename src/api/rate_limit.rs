//! Per-credential request limits (GCRA, from the governor crate), a budget of failed
//! authentications per client address, and a budget of wrong passphrases per credential.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// Failed authentications allowed per address per minute.
pub const FAILED_AUTH_PER_MINUTE: u32 = 30;

/// Wrong passphrases allowed per credential per minute when the catalog sets no other value.
pub const WRONG_PASSPHRASES_PER_MINUTE: u32 = 10;
/// How long a credential stays locked once its wrong-passphrase budget is spent: the time the
/// budget takes to refill, so a guesser gets at most the budget per minute.
const PASSPHRASE_LOCKOUT: Duration = Duration::from_secs(60);
/// Above this many tracked credentials, those whose budget is full again are dropped.
const PASSPHRASE_TRACKED_MAX: usize = 1024;

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
    per_credential: Mutex<HashMap<String, (u32, Arc<Limiter>)>>,
    failures: DefaultKeyedRateLimiter<IpAddr>,
    /// Addresses whose failure budget is spent, and until when: checked before any database
    /// lookup, so a guessing client costs the database nothing once it is over the limit.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    clock: DefaultClock,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_credential: Mutex::new(HashMap::new()),
            failures: RateLimiter::keyed(per_minute(FAILED_AUTH_PER_MINUTE)),
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
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

    fn limiter(&self, credential_id: &str, limit: u32) -> Arc<Limiter> {
        let mut map = self.per_credential.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(credential_id) {
            Some((quota, limiter)) if *quota == limit => limiter.clone(),
            _ => {
                let limiter = Arc::new(
                    RateLimiter::direct(per_minute(limit)).with_middleware::<StateInformationMiddleware>(),
                );
                map.insert(credential_id.to_owned(), (limit, limiter.clone()));
                limiter
            }
        }
    }

    /// Counts a failed authentication from `ip`; `Err(retry_after)` once the budget is spent.
    pub fn failed_attempt(&self, ip: IpAddr) -> Result<(), u64> {
        let retry_after = match self.failures.check_key(&ip) {
            Ok(_) => return Ok(()),
            Err(not_until) => not_until.wait_time_from(self.clock.now()).as_secs().max(1),
        };
        let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        blocked.retain(|_, until| *until > now);
        blocked.insert(ip, now + Duration::from_secs(retry_after));
        Err(retry_after)
    }

    /// `Some(retry_after)` while `ip` has spent its budget of failed authentications.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        let until = *blocked.get(&ip)?;
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

/// Wrong passphrases per credential. Memory stays bounded: only credentials with a recent wrong
/// passphrase are tracked (those back to a full budget are pruned), and only locked ones are
/// kept in `locked`, each for one lock-out.
pub struct PassphraseGuard {
    wrong: DefaultKeyedRateLimiter<String>,
    locked: Mutex<HashMap<String, Instant>>,
}

impl Default for PassphraseGuard {
    fn default() -> Self {
        Self::new(WRONG_PASSPHRASES_PER_MINUTE)
    }
}

impl PassphraseGuard {
    pub fn new(wrong_per_minute: u32) -> Self {
        Self { wrong: RateLimiter::keyed(per_minute(wrong_per_minute)), locked: Mutex::new(HashMap::new()) }
    }

    /// `Some(retry_after_seconds)` while the credential is locked out.
    pub fn locked(&self, credential_id: &str) -> Option<u64> {
        let locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        let left = locked.get(credential_id)?.checked_duration_since(Instant::now())?;
        Some(seconds_rounded_up(left))
    }

    /// `Some(lockout)` while the credential is locked out.
    pub fn lockout(&self, credential_id: &str) -> Option<Lockout> {
        self.locked(credential_id).map(|retry_after| Lockout { retry_after, started: false })
    }

    /// Counts a wrong passphrase; `Some` once the budget is spent, `started` for the attempt
    /// that began the lock-out.
    pub fn wrong(&self, credential_id: &str) -> Option<Lockout> {
        let key = credential_id.to_owned();
        let within_budget = self.wrong.check_key(&key).is_ok();
        if self.wrong.len() > PASSPHRASE_TRACKED_MAX {
            self.wrong.retain_recent();
            self.wrong.shrink_to_fit();
        }
        if within_budget {
            return None;
        }
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        locked.retain(|_, until| *until > now);
        if let Some(until) = locked.get(credential_id) {
            // A concurrent request started this lock-out a moment ago.
            let retry_after = until.checked_duration_since(now).map_or(1, seconds_rounded_up);
            return Some(Lockout { retry_after, started: false });
        }
        locked.insert(key, now + PASSPHRASE_LOCKOUT);
        Some(Lockout { retry_after: seconds_rounded_up(PASSPHRASE_LOCKOUT), started: true })
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
