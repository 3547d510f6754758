use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, organizations, users};
use super::DbConnection;
use crate::auth::Role;
use crate::credentials::Plan;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct Org {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub credential_cap: Option<i32>,
    pub api_access: bool,
    pub max_lifetime_days: Option<i32>,
    pub created_at: NaiveDateTime,
}

impl Org {
    pub fn plan(&self) -> Plan {
        // Stored plans come from this code; an unknown one is treated as the strictest.
        Plan::parse(&self.plan).unwrap_or(Plan::Free)
    }

    pub fn cap_override(&self) -> Option<u32> {
        self.credential_cap.and_then(|c| u32::try_from(c).ok())
    }

    pub fn max_lifetime_days(&self) -> Option<u64> {
        self.max_lifetime_days.and_then(|d| u64::try_from(d).ok())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub oidc_issuer: Option<String>,
    pub oidc_subject: Option<String>,
    pub is_operator: bool,
    pub created_at: NaiveDateTime,
}

pub fn find_org_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<Org>> {
    organizations::table.filter(organizations::slug.eq(slug)).select(Org::as_select()).first(conn).optional()
}

pub fn find_org_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Org>> {
    organizations::table.find(id).select(Org::as_select()).first(conn).optional()
}

pub fn insert_org(conn: &mut DbConnection, org: &Org) -> QueryResult<()> {
    diesel::insert_into(organizations::table).values(org).execute(conn).map(drop)
}

/// Takes the org's row lock for the rest of the transaction: on SQLite the first write takes
/// the database write lock, on PostgreSQL the row lock. Creation checks (plan cap, unique
/// name) are then race-free on both with one code path.
pub fn lock_org(conn: &mut DbConnection, org_id: &str) -> QueryResult<()> {
    diesel::update(organizations::table.find(org_id))
        .set(organizations::id.eq(organizations::id))
        .execute(conn)
        .map(drop)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).first(conn).optional()
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).first(conn).optional()
}

pub fn insert_user(conn: &mut DbConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table).values(user).execute(conn).map(drop)
}

/// Every user with the orgs they belong to, for the dev sign-in list.
pub fn all_users(conn: &mut DbConnection) -> QueryResult<Vec<User>> {
    users::table.order(users::email.asc()).select(User::as_select()).load(conn)
}

pub fn role_in(conn: &mut DbConnection, org_id: &str, user_id: &str) -> QueryResult<Option<Role>> {
    let stored: Option<String> =
        memberships::table.find((org_id, user_id)).select(memberships::role).first(conn).optional()?;
    Ok(stored.as_deref().and_then(Role::parse))
}

pub fn add_member(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(org_id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role.as_str()),
            memberships::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The orgs a user belongs to, by name, with the user's role in each.
pub fn orgs_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<(Org, Role)>> {
    let rows: Vec<(Org, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .order(organizations::name.asc())
        .select((Org::as_select(), memberships::role))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(org, role)| Role::parse(&role).map(|r| (org, r))).collect())
}

/// Emails of the given users, for "created by" and "revoked by" columns.
pub fn emails_of(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    users::table.filter(users::id.eq_any(ids)).select((users::id, users::email)).load(conn)
}

pub fn set_plan(conn: &mut DbConnection, org_id: &str, plan: Plan, cap: Option<i32>) -> QueryResult<()> {
    diesel::update(organizations::table.find(org_id))
        .set((organizations::plan.eq(plan.as_str()), organizations::credential_cap.eq(cap)))
        .execute(conn)
        .map(drop)
}

pub fn set_api_access(conn: &mut DbConnection, org_id: &str, on: bool) -> QueryResult<()> {
    diesel::update(organizations::table.find(org_id))
        .set(organizations::api_access.eq(on))
        .execute(conn)
        .map(drop)
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends.
    fn lower(value: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// People whose email matches regardless of case (an email's case carries no meaning in
/// practice, but the column is unique only case-sensitively, so there may be more than one).
pub fn find_users_by_email_ignoring_case(conn: &mut DbConnection, email: &str) -> QueryResult<Vec<User>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .order(users::email.asc())
        .select(User::as_select())
        .load(conn)
}

pub fn set_operator(conn: &mut DbConnection, user_id: &str, on: bool) -> QueryResult<()> {
    diesel::update(users::table.find(user_id)).set(users::is_operator.eq(on)).execute(conn).map(drop)
}

/// Every org by name, with how many members each has, for platform operators.
pub fn all_orgs_with_member_counts(conn: &mut DbConnection) -> QueryResult<Vec<(Org, i64)>> {
    let orgs = organizations::table.order(organizations::name.asc()).select(Org::as_select()).load(conn)?;
    let counts: Vec<(String, i64)> = memberships::table
        .group_by(memberships::org_id)
        .select((memberships::org_id, diesel::dsl::count_star()))
        .load(conn)?;
    let counts: std::collections::HashMap<String, i64> = counts.into_iter().collect();
    Ok(orgs
        .into_iter()
        .map(|org| {
            let count = counts.get(&org.id).copied().unwrap_or(0);
            (org, count)
        })
        .collect())
}
