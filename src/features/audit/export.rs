//! The CSV export of a filtered audit log: every matching entry (up to `EXPORT_CAP`), newest
//! first, with the page's columns, streamed in chunks read one after the other.

use std::borrow::Cow;

use actix_web::web::Bytes;
use chrono::NaiveDateTime;

use super::views::AuditRow;
use crate::db::audit::{self, AuditFilter, Cursor, Scope, Window};
use crate::db::{self, DbPool};
use crate::error::AppError;

/// The most entries one export holds; the page says so when the filters match more.
pub const EXPORT_CAP: i64 = 100_000;
const CHUNK: i64 = 1_000;

pub const COLUMNS: [&str; 9] = [
    "Time (UTC)",
    "Actor",
    "Via credential",
    "Action",
    "Target",
    "Target type",
    "Address",
    "User agent",
    "Details",
];

/// Spreadsheets run a cell that starts with one of these as a formula: such a cell gets a
/// leading `'`, which they show as text. Quoting commas, quotes and line breaks is the csv
/// writer's job.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new())
}

fn finish(writer: csv::Writer<Vec<u8>>) -> Result<Bytes, AppError> {
    writer.into_inner().map(Bytes::from).map_err(|e| AppError::internal(format!("csv: {e}")))
}

/// The instance-wide log names each entry's org in a first column.
const ORG_COLUMN: &str = "Organization";

/// A byte-order mark (so spreadsheet programs read UTF-8) and the header row.
pub fn header(scope: &Scope) -> Result<Bytes, AppError> {
    let mut out = writer();
    let org = (*scope == Scope::Instance).then_some(ORG_COLUMN);
    out.write_record(org.into_iter().chain(COLUMNS)).map_err(|e| AppError::internal(format!("csv: {e}")))?;
    let mut bytes = "\u{feff}".as_bytes().to_vec();
    bytes.extend_from_slice(&finish(out)?);
    Ok(Bytes::from(bytes))
}

pub fn rows(rows: &[AuditRow], scope: &Scope) -> Result<Bytes, AppError> {
    let mut out = writer();
    for row in rows {
        let org = (*scope == Scope::Instance).then_some(row.org.as_str());
        let time = row.occurred_at.format("%Y-%m-%d %H:%M:%S").to_string();
        let details = row.details.join("; ");
        let cells = [
            time.as_str(),
            &row.actor,
            row.via.as_deref().unwrap_or_default(),
            &row.action,
            &row.target,
            &row.target_kind,
            &row.address,
            &row.user_agent,
            &details,
        ];
        out.write_record(org.into_iter().chain(cells).map(|cell| neutralise(cell).into_owned()))
            .map_err(|e| AppError::internal(format!("csv: {e}")))?;
    }
    finish(out)
}

/// Where an export stands between two chunks.
pub struct Progress {
    window: Window,
    written: i64,
}

impl Progress {
    pub fn start() -> Self {
        Self { window: Window::Newest, written: 0 }
    }
}

/// The next chunk of rows as CSV, and where to go on from (None: done).
pub async fn next_chunk(
    pool: &DbPool,
    scope: Scope,
    filter: AuditFilter,
    progress: Progress,
    now: NaiveDateTime,
) -> Result<(Bytes, Option<Progress>), AppError> {
    let limit = CHUNK.min(EXPORT_CAP - progress.written);
    if limit <= 0 {
        return Ok((Bytes::new(), None));
    }
    db::run(pool, move |conn| {
        let slice = audit::search(conn, &scope, &filter, &progress.window, limit)?;
        let written = progress.written + slice.records.len() as i64;
        let last = slice.records.last().map(|record| Cursor::of(&record.entry));
        let next = match last {
            Some(cursor) if slice.more && written < EXPORT_CAP => {
                Some(Progress { window: Window::Before(cursor), written })
            }
            _ => None,
        };
        let views: Vec<AuditRow> = slice.records.into_iter().map(|r| AuditRow::of(r, now)).collect();
        Ok((rows(&views, &scope)?, next))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starters_are_neutralised_and_nothing_else_is() {
        for cell in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["deploy", "a=b", "", " =1", "tsr_at_Ab12Cd"] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
        }
    }
}
