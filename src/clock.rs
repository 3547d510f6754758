//! "Now" comes from here so tests can move time and expiry stays deterministic.

use std::sync::{Arc, Mutex};

use chrono::{DurationRound, NaiveDateTime, TimeDelta, Utc};

pub trait Clock: Send + Sync + 'static {
    /// UTC, truncated to microseconds, the precision both databases keep.
    fn now(&self) -> NaiveDateTime;
}

pub type SharedClock = Arc<dyn Clock>;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        truncate(Utc::now().naive_utc())
    }
}

/// A clock that stands still until told to move.
pub struct ManualClock(Mutex<NaiveDateTime>);

impl ManualClock {
    pub fn starting_at(at: NaiveDateTime) -> Self {
        Self(Mutex::new(truncate(at)))
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NaiveDateTime {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn truncate(at: NaiveDateTime) -> NaiveDateTime {
    at.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(at)
}
