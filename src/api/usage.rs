//! Usage is counted in memory and written in batches (at most a few seconds apart, and at
//! graceful shutdown), so the hot path never writes to the database.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{NaiveDate, NaiveDateTime};

use crate::db::usage::{self, PendingUsage};
use crate::db::{self, DbPool};
use crate::error::AppError;

#[derive(Default)]
struct Aggregate {
    requests: i64,
    failed: i64,
    last_used: Option<(NaiveDateTime, String)>,
    per_day: HashMap<NaiveDate, (i64, i64)>,
    addresses: HashMap<String, NaiveDateTime>,
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
            addresses: self.addresses.into_iter().collect(),
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
            let seen = self.addresses.entry(ip).or_insert(at);
            *seen = (*seen).max(at);
        }
    }
}

#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<HashMap<String, Aggregate>>,
}

impl UsageRecorder {
    pub fn accepted(&self, credential_id: &str, at: NaiveDateTime, ip: &str) {
        self.with(credential_id, |agg| {
            agg.requests += 1;
            if agg.last_used.as_ref().is_none_or(|(last, _)| *last <= at) {
                agg.last_used = Some((at, ip.to_owned()));
            }
            agg.per_day.entry(at.date()).or_default().0 += 1;
            let seen = agg.addresses.entry(ip.to_owned()).or_insert(at);
            *seen = (*seen).max(at);
        });
    }

    pub fn failed(&self, credential_id: &str, at: NaiveDateTime) {
        self.with(credential_id, |agg| {
            agg.failed += 1;
            agg.per_day.entry(at.date()).or_default().1 += 1;
        });
    }

    fn with(&self, credential_id: &str, update: impl FnOnce(&mut Aggregate)) {
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        update(pending.entry(credential_id.to_owned()).or_default());
    }

    /// Writes everything pending. What cannot be written goes back to wait for the next flush.
    pub async fn flush(&self, pool: &DbPool) -> Result<usize, AppError> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let count = batch.len();
        let pending: Vec<(String, PendingUsage)> =
            batch.into_iter().map(|(id, agg)| (id, agg.into_pending())).collect();
        let failed = db::run(pool, move |conn| {
            let mut failed = Vec::new();
            for (id, usage) in pending {
                if let Err(e) = usage::apply(conn, &id, &usage) {
                    tracing::warn!(credential_id = %id, error = %e, "usage flush failed; will retry");
                    failed.push((id, usage));
                }
            }
            Ok(failed)
        })
        .await?;
        self.put_back(failed);
        Ok(count)
    }

    fn put_back(&self, failed: Vec<(String, PendingUsage)>) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        for (id, usage) in failed {
            let agg = Aggregate {
                requests: usage.requests,
                failed: usage.failed,
                last_used: usage.last_used,
                per_day: usage.per_day.into_iter().map(|(d, r, f)| (d, (r, f))).collect(),
                addresses: usage.addresses.into_iter().collect(),
            };
            pending.entry(id).or_default().merge(agg);
        }
    }
}
