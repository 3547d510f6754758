//! Console sessions as server-side records. Rows are keyed by the SHA-256 of the cookie's key,
//! so reading this table opens no session; people see and name a session by its `public_id`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sessions;
use super::DbConnection;

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = sessions)]
pub struct SessionRecord {
    pub id: String,
    pub public_id: String,
    pub user_id: Option<String>,
    pub state: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in session as Account → Sessions lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionSummary {
    pub public_id: String,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The stored state of a live session. An expired one is deleted on sight, so it stays ended
/// whatever a clock does later.
pub fn load_state(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<Option<String>> {
    let found: Option<(String, NaiveDateTime)> = sessions::table
        .find(id)
        .select((sessions::state, sessions::expires_at))
        .get_result(conn)
        .optional()?;
    match found {
        Some((state, expires_at)) if expires_at > now => Ok(Some(state)),
        Some(_) => delete(conn, id).map(|()| None),
        None => Ok(None),
    }
}

pub fn insert(conn: &mut DbConnection, record: &SessionRecord) -> QueryResult<()> {
    diesel::insert_into(sessions::table).values(record).execute(conn).map(drop)
}

/// Rewrites a session that still exists; a session ended meanwhile (signed out elsewhere) stays
/// ended: `false` tells the caller nothing was written.
pub fn update(conn: &mut DbConnection, record: &SessionRecord) -> QueryResult<bool> {
    let changed = diesel::update(sessions::table.find(&record.id)).set(record).execute(conn)?;
    Ok(changed > 0)
}

pub fn extend(conn: &mut DbConnection, id: &str, expires_at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id)).set(sessions::expires_at.eq(expires_at)).execute(conn).map(drop)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id)).execute(conn).map(drop)
}

/// A person's live sessions, most recently used first.
pub fn of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<SessionSummary>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::public_id.desc()))
        .select(SessionSummary::as_select())
        .load(conn)
}

/// Ends one of a person's sessions; `false` when they have none by that id.
pub fn end_one(conn: &mut DbConnection, user_id: &str, public_id: &str) -> QueryResult<bool> {
    let ended = diesel::delete(
        sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::public_id.eq(public_id)),
    )
    .execute(conn)?;
    Ok(ended > 0)
}

/// Ends every session of a person except `keep`; returns how many ended.
pub fn end_others(conn: &mut DbConnection, user_id: &str, keep: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id)).filter(sessions::public_id.ne(keep)))
        .execute(conn)
}

/// Ends every session of a person; returns how many ended.
pub fn end_all(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Drops expired rows; they are refused on load already, this only keeps the table small.
pub fn purge_expired(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.le(now))).execute(conn)
}
