//! Usage is counted in memory and written in batches (every second, and at graceful shutdown),
//! so the hot path never writes to the database. Pending usage is merged per credential, so
//! memory grows with the credentials in use, not with requests; a batch that cannot be written
//! (the database away, a failed transaction, the flush cancelled) is merged back and written
//! later, so an outage loses nothing. Only a crash loses what was pending: at most about one
//! flush interval of use. Past `MAX_PENDING_CREDENTIALS` waiting credentials, a new credential's
//! uses are dropped and counted in a metric rather than let memory grow without bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::usage::{self, PendingUsage, KEPT_ADDRESSES};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::metrics::UsageMetrics;

/// Credentials whose usage may wait for the database at once (a few hundred bytes each).
pub const MAX_PENDING_CREDENTIALS: usize = 100_000;

#[derive(Default)]
struct Aggregate {
    requests: i64,
    failed: i64,
    last_used: Option<(NaiveDateTime, String)>,
    per_day: HashMap<NaiveDate, (i64, i64)>,
    /// Only the newest `KEPT_ADDRESSES` are kept, as in the database.
    addresses: Vec<(String, NaiveDateTime)>,
}

impl Aggregate {
    fn into_pending(self) -> PendingUsage {
        let mut per_day: Vec<_> = self.per_day.into_iter().map(|(day, (r, f))| (day, r, f)).collect();
        per_day.sort();
        PendingUsage {
            requests: self.requests,
            failed: self.failed,
            last_used: self.last_used,
            per_day,
            addresses: self.addresses,
        }
    }

    fn from_pending(usage: PendingUsage) -> Self {
        Self {
            requests: usage.requests,
            failed: usage.failed,
            last_used: usage.last_used,
            per_day: usage.per_day.into_iter().map(|(d, r, f)| (d, (r, f))).collect(),
            addresses: usage.addresses,
        }
    }

    fn seen(&mut self, ip: &str, at: NaiveDateTime) {
        match self.addresses.iter_mut().find(|(known, _)| known == ip) {
            Some((_, seen)) => *seen = (*seen).max(at),
            None => {
                self.addresses.push((ip.to_owned(), at));
                self.keep_newest_addresses();
            }
        }
    }

    fn keep_newest_addresses(&mut self) {
        let kept = usize::try_from(KEPT_ADDRESSES).unwrap_or(usize::MAX);
        if self.addresses.len() > kept {
            self.addresses.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            self.addresses.truncate(kept);
        }
    }

    fn merge(&mut self, other: Aggregate) {
        self.requests += other.requests;
        self.failed += other.failed;
        if other.last_used.as_ref().map(|l| l.0) > self.last_used.as_ref().map(|l| l.0) {
            self.last_used = other.last_used;
        }
        for (day, (r, f)) in other.per_day {
            let entry = self.per_day.entry(day).or_default();
            entry.0 += r;
            entry.1 += f;
        }
        for (ip, at) in other.addresses {
            self.seen(&ip, at);
        }
    }
}

#[derive(Default)]
struct Pending {
    by_credential: HashMap<String, Aggregate>,
    /// Credentials in the batch being written: they come back if it fails, so they count
    /// against the bound too.
    in_flight: usize,
}

type Shared = Arc<Mutex<Pending>>;

fn lock(pending: &Shared) -> std::sync::MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct UsageRecorder {
    pending: Shared,
    max_pending: usize,
    pub metrics: UsageMetrics,
}

impl Default for UsageRecorder {
    fn default() -> Self {
        Self::bounded(MAX_PENDING_CREDENTIALS)
    }
}

impl UsageRecorder {
    pub fn bounded(max_pending: usize) -> Self {
        Self { pending: Shared::default(), max_pending, metrics: UsageMetrics::default() }
    }

    pub fn accepted(&self, credential_id: &str, at: NaiveDateTime, ip: &str) {
        self.with(credential_id, |agg| {
            agg.requests += 1;
            match &mut agg.last_used {
                Some((last, last_ip)) if *last <= at => {
                    *last = at;
                    if last_ip != ip {
                        ip.clone_into(last_ip);
                    }
                }
                Some(_) => {}
                None => agg.last_used = Some((at, ip.to_owned())),
            }
            agg.per_day.entry(at.date()).or_default().0 += 1;
            agg.seen(ip, at);
        });
    }

    pub fn failed(&self, credential_id: &str, at: NaiveDateTime) {
        self.with(credential_id, |agg| {
            agg.failed += 1;
            agg.per_day.entry(at.date()).or_default().1 += 1;
        });
    }

    fn with(&self, credential_id: &str, update: impl FnOnce(&mut Aggregate)) {
        let mut pending = lock(&self.pending);
        if let Some(agg) = pending.by_credential.get_mut(credential_id) {
            return update(agg);
        }
        if pending.by_credential.len() + pending.in_flight >= self.max_pending {
            drop(pending);
            self.metrics.dropped();
            return;
        }
        update(pending.by_credential.entry(credential_id.to_owned()).or_default());
    }

    /// Credentials whose usage waits to be written.
    pub fn pending(&self) -> usize {
        let pending = lock(&self.pending);
        pending.by_credential.len() + pending.in_flight
    }

    /// Writes everything pending in one transaction. A batch not written, for whatever reason,
    /// is merged back to wait for the next flush: the put-back lives in the blocking task, so
    /// it happens even if this future is dropped (as at shutdown) while the write is under way.
    pub async fn flush(&self, pool: &DbPool) -> Result<usize, AppError> {
        let batch = {
            let mut pending = lock(&self.pending);
            let batch = std::mem::take(&mut pending.by_credential);
            pending.in_flight += batch.len();
            batch
        };
        let count = batch.len();
        let unwritten = Unwritten {
            pending: self.pending.clone(),
            taken: count,
            batch: batch.into_iter().map(|(id, agg)| (id, agg.into_pending())).collect(),
        };
        let written = if count == 0 {
            drop(unwritten);
            Ok(())
        } else {
            db::run(pool, move |conn| {
                let mut unwritten = unwritten;
                usage::apply_all(conn, &unwritten.batch)?;
                unwritten.batch.clear();
                Ok(())
            })
            .await
        };
        self.metrics.pending(self.pending());
        written.map(|()| count)
    }
}

/// A taken batch on its way to the database; dropped before it was written, it goes back.
struct Unwritten {
    pending: Shared,
    /// Credentials taken, counted in `in_flight` until this ends (two flushes may overlap, as
    /// a cancelled one finishing while the shutdown flush runs).
    taken: usize,
    batch: Vec<(String, PendingUsage)>,
}

impl Drop for Unwritten {
    fn drop(&mut self) {
        let mut pending = lock(&self.pending);
        pending.in_flight = pending.in_flight.saturating_sub(self.taken);
        for (id, usage) in self.batch.drain(..) {
            pending.by_credential.entry(id).or_default().merge(Aggregate::from_pending(usage));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap().naive_utc()
    }

    #[test]
    fn only_the_newest_addresses_are_kept_per_credential() {
        let recorder = UsageRecorder::default();
        for n in 0..50 {
            recorder.accepted("c1", at(n), &format!("192.0.2.{n}"));
        }
        let pending = lock(&recorder.pending);
        let agg = &pending.by_credential["c1"];
        assert_eq!(agg.requests, 50);
        let ips: Vec<&str> = agg.addresses.iter().map(|(ip, _)| ip.as_str()).collect();
        assert_eq!(ips, ["192.0.2.49", "192.0.2.48", "192.0.2.47", "192.0.2.46", "192.0.2.45"]);
        assert_eq!(agg.last_used, Some((at(49), "192.0.2.49".to_owned())));
    }

    #[test]
    fn past_the_bound_new_credentials_are_dropped_and_counted() {
        let recorder = UsageRecorder::bounded(3);
        for id in ["a", "b", "c", "d", "e"] {
            recorder.accepted(id, at(0), "192.0.2.1");
        }
        recorder.accepted("a", at(1), "192.0.2.1");
        recorder.failed("e", at(1));
        assert_eq!(recorder.pending(), 3);
        assert_eq!(recorder.metrics.dropped_count(), 3);
        assert_eq!(lock(&recorder.pending).by_credential["a"].requests, 2, "waiting ones still merge");
    }

    #[test]
    fn a_batch_not_written_goes_back_merged() {
        let recorder = UsageRecorder::default();
        recorder.accepted("a", at(0), "192.0.2.1");
        let batch = std::mem::take(&mut lock(&recorder.pending).by_credential);
        recorder.accepted("a", at(5), "192.0.2.2");
        recorder.failed("b", at(6));
        drop(Unwritten {
            pending: recorder.pending.clone(),
            taken: 0,
            batch: batch.into_iter().map(|(id, agg)| (id, agg.into_pending())).collect(),
        });
        let pending = lock(&recorder.pending);
        let a = &pending.by_credential["a"];
        assert_eq!((a.requests, a.per_day[&at(0).date()]), (2, (2, 0)));
        assert_eq!(a.last_used, Some((at(5), "192.0.2.2".to_owned())));
        assert_eq!(a.addresses.len(), 2);
        assert_eq!(pending.by_credential["b"].failed, 1);
    }
}
