use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor, AuditEvent};
use super::schema::{memberships, organizations, users};
use super::{lower, new_id, DbConnection};
use crate::credentials::Plan;
use crate::domain::Role;

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
    organizations::table
        .filter(organizations::slug.eq(slug))
        .select(Org::as_select())
        .get_result(conn)
        .optional()
}

pub fn find_org_by_id(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Org>> {
    organizations::table.find(id).select(Org::as_select()).get_result(conn).optional()
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

/// The person's row lock, as `lock_org` for an org: what is counted per person (personal tokens
/// across orgs) is checked race-free.
pub fn lock_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id)).set(users::id.eq(users::id)).execute(conn).map(drop)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    users::table.find(id).select(User::as_select()).get_result(conn).optional()
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::email.eq(email)).select(User::as_select()).get_result(conn).optional()
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
        memberships::table.find((org_id, user_id)).select(memberships::role).get_result(conn).optional()?;
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

// Settings → Members. Every change takes the org's lock first, so the last-owner rule holds
// under concurrent requests on both backends, and writes its audit entry in the same transaction.

/// Bind parameters per query stay far below both backends' limits.
const IDS_PER_QUERY: usize = 500;

/// A member as Settings → Members lists them.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub user: User,
    pub role: Role,
    pub added_at: NaiveDateTime,
    /// The latest sign-in recorded in the audit log.
    pub last_sign_in: Option<NaiveDateTime>,
}

/// The org's members by email, with when each was added and last signed in.
pub fn members_of(conn: &mut DbConnection, org_id: &str) -> QueryResult<Vec<MemberRow>> {
    use super::schema::audit_log as l;
    let rows: Vec<(User, String, NaiveDateTime)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .order((users::email.asc(), users::id.asc()))
        .select((User::as_select(), memberships::role, memberships::created_at))
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|(user, _, _)| user.id.clone()).collect();
    let mut sign_ins = std::collections::HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let latest: Vec<(Option<String>, Option<NaiveDateTime>)> = l::table
            .filter(l::action.eq("auth.sign_in"))
            .filter(l::actor_user_id.eq_any(chunk))
            .group_by(l::actor_user_id)
            .select((l::actor_user_id, diesel::dsl::max(l::occurred_at)))
            .load(conn)?;
        sign_ins.extend(latest.into_iter().filter_map(|(id, at)| Some((id?, at?))));
    }
    Ok(rows
        .into_iter()
        .filter_map(|(user, role, added_at)| {
            let last_sign_in = sign_ins.get(&user.id).copied();
            Role::parse(&role).map(|role| MemberRow { user, role, added_at, last_sign_in })
        })
        .collect())
}

/// The person with this email: the row stored exactly so (emails are stored lower-cased), else
/// one written before that rule whose email differs only in case.
fn person_with_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    let mut found = find_users_by_email_ignoring_case(conn, email)?;
    let exact = found.iter().position(|user| user.email == email);
    Ok(match exact {
        Some(index) => Some(found.swap_remove(index)),
        None => found.into_iter().next(),
    })
}

fn owner_count(conn: &mut DbConnection, org_id: &str) -> QueryResult<i64> {
    memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .count()
        .get_result(conn)
}

/// Whether moving a member from `before` to `after` (None: removed) would leave the org
/// with no owner, given how many owners it has now.
pub fn leaves_no_owner(before: Role, after: Option<Role>, owners: i64) -> bool {
    before == Role::Owner && after != Some(Role::Owner) && owners <= 1
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddMember {
    /// `new_user`: nobody had this email, so a user row waits for its first sign-in.
    Added {
        user_id: String,
        new_user: bool,
    },
    AlreadyMember(Role),
}

/// Adds the person with this (normalized) email to the org, creating their user row when
/// nobody has the email yet.
pub fn add_member_by_email(
    conn: &mut DbConnection,
    org_id: &str,
    email: &str,
    role: Role,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<AddMember> {
    conn.transaction(|conn| {
        lock_org(conn, org_id)?;
        let (user, new_user) = match person_with_email(conn, email)? {
            Some(user) => (user, false),
            None => {
                let user = User {
                    id: new_id(),
                    email: email.to_owned(),
                    display_name: String::new(),
                    oidc_issuer: None,
                    oidc_subject: None,
                    is_operator: false,
                    created_at: now,
                };
                insert_user(conn, &user)?;
                (user, true)
            }
        };
        if let Some(existing) = role_in(conn, org_id, &user.id)? {
            return Ok(AddMember::AlreadyMember(existing));
        }
        add_member(conn, org_id, &user.id, role, now)?;
        let details = serde_json::json!({ "role": role.as_str(), "new_user": new_user });
        audit::record(conn, actor, member_event(org_id, "member.add", &user, details), now)?;
        Ok(AddMember::Added { user_id: user.id, new_user })
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Changed {
        email: String,
        before: Role,
    },
    /// The member already has that role: nothing written.
    Unchanged {
        email: String,
    },
    /// The org's only owner would be removed or demoted: nothing written.
    LastOwner {
        email: String,
    },
    NotFound,
}

/// Gives a member another role, unless that leaves the org without an owner.
pub fn change_role(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    role: Role,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<MemberChange> {
    conn.transaction(|conn| {
        lock_org(conn, org_id)?;
        let Some((user, before)) = member(conn, org_id, user_id)? else {
            return Ok(MemberChange::NotFound);
        };
        if before == role {
            return Ok(MemberChange::Unchanged { email: user.email });
        }
        if leaves_no_owner(before, Some(role), owner_count(conn, org_id)?) {
            return Ok(MemberChange::LastOwner { email: user.email });
        }
        diesel::update(memberships::table.find((org_id, user_id)))
            .set(memberships::role.eq(role.as_str()))
            .execute(conn)?;
        let details = serde_json::json!({ "before": before.as_str(), "after": role.as_str() });
        audit::record(conn, actor, member_event(org_id, "member.role_change", &user, details), now)?;
        Ok(MemberChange::Changed { email: user.email, before })
    })
}

/// Takes a member out of the org, unless they are its last owner. Their user row stays; their
/// personal tokens for the org are revoked in the same transaction, each audited.
pub fn remove_member(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<MemberChange> {
    conn.transaction(|conn| {
        lock_org(conn, org_id)?;
        let Some((user, before)) = member(conn, org_id, user_id)? else {
            return Ok(MemberChange::NotFound);
        };
        if leaves_no_owner(before, None, owner_count(conn, org_id)?) {
            return Ok(MemberChange::LastOwner { email: user.email });
        }
        diesel::delete(memberships::table.find((org_id, user_id))).execute(conn)?;
        // Someone left with no org has nothing to do in the console: their sessions end now,
        // not at the idle limit. An operator keeps theirs (they read every org).
        let remaining =
            memberships::table.filter(memberships::user_id.eq(user_id)).count().get_result::<i64>(conn)?;
        if remaining == 0 && !user.is_operator {
            super::sessions::end_all(conn, user_id)?;
        }
        let details = serde_json::json!({ "role": before.as_str() });
        audit::record(conn, actor, member_event(org_id, "member.remove", &user, details), now)?;
        super::credentials::revoke_personal_tokens_in(conn, org_id, user_id, "member_removed", actor, now)?;
        Ok(MemberChange::Changed { email: user.email, before })
    })
}

/// A person as a member of this org, with their role: one query scoped by the org.
fn member(conn: &mut DbConnection, org_id: &str, user_id: &str) -> QueryResult<Option<(User, Role)>> {
    let found: Option<(User, String)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::user_id.eq(user_id))
        .select((User::as_select(), memberships::role))
        .get_result(conn)
        .optional()?;
    Ok(found.and_then(|(user, role)| Some((user, Role::parse(&role)?))))
}

fn member_event<'a>(
    org_id: &'a str,
    action: &'a str,
    user: &'a User,
    details: serde_json::Value,
) -> AuditEvent<'a> {
    AuditEvent {
        org_id: Some(org_id),
        action,
        target_type: Some("membership"),
        target_id: Some(&user.id),
        target_label: Some(&user.email),
        details,
    }
}

/// The person signed in by this OpenID identity.
pub fn find_user_by_oidc(conn: &mut DbConnection, issuer: &str, subject: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::oidc_issuer.eq(issuer))
        .filter(users::oidc_subject.eq(subject))
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// Links a person added by email to the OpenID identity that first signed in with it; only if
/// no identity is linked yet, so a race cannot link two.
pub fn link_oidc(
    conn: &mut DbConnection,
    user_id: &str,
    issuer: &str,
    subject: &str,
    display_name: Option<&str>,
) -> QueryResult<bool> {
    let linked = diesel::update(users::table.find(user_id).filter(users::oidc_subject.is_null()))
        .set((users::oidc_issuer.eq(issuer), users::oidc_subject.eq(subject)))
        .execute(conn)?;
    if let (1, Some(name)) = (linked, display_name.filter(|n| !n.trim().is_empty())) {
        let name: String = name.trim().chars().take(200).collect();
        diesel::update(users::table.find(user_id).filter(users::display_name.eq("")))
            .set(users::display_name.eq(name))
            .execute(conn)?;
    }
    Ok(linked == 1)
}
