//! Operator commands run from the shell against the database. A running server reads orgs on
//! every request, so it sees their effect at once.

use std::fmt;

use diesel::Connection;

use crate::clock::Clock;
use crate::credentials::Plan;
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::orgs::{self, Org, User};
use crate::db::{new_id, DbConnection, DbPool};
use crate::domain::Role;
use crate::email::EmailAddress;

const MAX_ORG_NAME: usize = 100;
const MAX_CAP: u32 = 100_000;

/// An org's URL name: 2–40 of a-z, 0-9 and '-', starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (2..=40).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && raw.bytes().next().is_some_and(|b| b != b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "org slug {raw:?} must be 2-40 characters of a-z, 0-9 and '-', not starting with '-'"
            ))
        }
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn parse_plan(raw: &str) -> Result<Plan, String> {
    Plan::parse(raw).ok_or_else(|| format!("plan {raw:?} must be one of free, team, growth, enterprise"))
}

fn operator() -> Actor {
    Actor {
        user_id: None,
        credential_id: None,
        label: "operator (cli)".into(),
        ip: None,
        user_agent: Some("tessera cli".into()),
    }
}

fn org_event<'a>(org: &'a Org, action: &'a str, details: serde_json::Value) -> AuditEvent<'a> {
    AuditEvent {
        org_id: Some(&org.id),
        action,
        target_type: Some("org"),
        target_id: Some(&org.id),
        target_label: Some(&org.slug),
        details,
    }
}

fn find(conn: &mut DbConnection, slug: &OrgSlug) -> Result<Org, String> {
    orgs::find_org_by_slug(conn, &slug.0)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no org with slug {slug}"))
}

/// The person with this email: stored exactly so (emails are stored normalized), else the one
/// older row that differs only in case. Several such rows are refused rather than guessed at.
fn find_user(conn: &mut DbConnection, email: &EmailAddress) -> Result<Option<User>, String> {
    let mut found =
        orgs::find_users_by_email_ignoring_case(conn, email.as_str()).map_err(|e| e.to_string())?;
    if let Some(exact) = found.iter().position(|user| user.email == email.as_str()) {
        return Ok(Some(found.swap_remove(exact)));
    }
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => Err(format!("several users have the email {email} in different cases; nothing was changed")),
    }
}

fn user_event<'a>(user: &'a User, action: &'a str, details: serde_json::Value) -> AuditEvent<'a> {
    AuditEvent {
        org_id: None,
        action,
        target_type: Some("user"),
        target_id: Some(&user.id),
        target_label: Some(&user.email),
        details,
    }
}

fn transaction<T>(
    pool: &DbPool,
    work: impl FnOnce(&mut DbConnection) -> Result<T, String>,
) -> Result<T, String> {
    let mut conn = pool.get().map_err(|e| format!("cannot open the database: {e}"))?;
    conn.transaction(|conn| work(conn).map_err(Failure::Refused)).map_err(|e: Failure| e.to_string())
}

/// A refusal or a database error; either rolls the transaction back.
#[derive(Debug)]
enum Failure {
    Refused(String),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        Self::Database(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(why) => f.write_str(why),
            Self::Database(e) => write!(f, "database error: {e}"),
        }
    }
}

/// Creates an org, and with `owner` makes that person its owner: an unknown email gets a new
/// account holding only the email, linked to an identity at its first sign-in.
pub fn create_org(
    pool: &DbPool,
    clock: &dyn Clock,
    slug: &str,
    name: &str,
    plan: &str,
    owner: Option<&str>,
) -> Result<String, String> {
    let slug = OrgSlug::parse(slug)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ORG_NAME {
        return Err(format!("org name must be 1-{MAX_ORG_NAME} characters"));
    }
    crate::text::check(name, crate::text::Lines::Single).map_err(|e| format!("org name: {e}"))?;
    let plan = parse_plan(plan)?;
    let owner = owner.map(EmailAddress::parse).transpose().map_err(|e| format!("--owner: {e}"))?;
    let now = clock.now();
    transaction(pool, |conn| {
        if orgs::find_org_by_slug(conn, &slug.0).map_err(|e| e.to_string())?.is_some() {
            return Err(format!("an org with slug {slug} already exists"));
        }
        let org = Org {
            id: new_id(),
            slug: slug.0.clone(),
            name: name.to_owned(),
            plan: plan.as_str().into(),
            credential_cap: None,
            api_access: false,
            max_lifetime_days: None,
            created_at: now,
        };
        orgs::insert_org(conn, &org).map_err(|e| e.to_string())?;
        let details = serde_json::json!({
            "name": org.name,
            "plan": org.plan,
            "api_access": false,
            "owner": owner.as_ref().map(EmailAddress::as_str),
        });
        audit::record(conn, &operator(), org_event(&org, "org.create", details), now)
            .map_err(|e| e.to_string())?;
        let mut done =
            format!("created org {slug} ({name}) on the {} plan; API access is off", plan.as_str());
        if let Some(email) = &owner {
            let (user, created) = match find_user(conn, email)? {
                Some(user) => (user, false),
                None => {
                    let user = User {
                        id: new_id(),
                        email: email.as_str().to_owned(),
                        // Unknown until the person signs in.
                        display_name: String::new(),
                        oidc_issuer: None,
                        oidc_subject: None,
                        is_operator: false,
                        created_at: now,
                    };
                    orgs::insert_user(conn, &user).map_err(|e| e.to_string())?;
                    (user, true)
                }
            };
            orgs::add_member(conn, &org.id, &user.id, Role::Owner, now).map_err(|e| e.to_string())?;
            let event = AuditEvent {
                org_id: Some(&org.id),
                action: "member.add",
                target_type: Some("membership"),
                target_id: Some(&user.id),
                target_label: Some(&user.email),
                details: serde_json::json!({ "role": Role::Owner.as_str(), "new_user": created }),
            };
            audit::record(conn, &operator(), event, now).map_err(|e| e.to_string())?;
            done.push_str(&format!("; owner {}", user.email));
            if created {
                done.push_str(" (a new account, linked to their identity when they first sign in)");
            }
        }
        Ok(done)
    })
}

/// Sets or clears a person's platform operator flag. A running server reads it on every
/// request, so the change applies to the person's next page.
pub fn set_operator(pool: &DbPool, clock: &dyn Clock, email: &str, on: bool) -> Result<String, String> {
    let email = EmailAddress::parse(email)?;
    let now = clock.now();
    transaction(pool, |conn| {
        let user = find_user(conn, &email)?.ok_or_else(|| format!("no user with email {email}"))?;
        let what = if on { "a platform operator" } else { "not a platform operator" };
        if user.is_operator == on {
            return Ok(format!("{} is already {what}; nothing changed", user.email));
        }
        orgs::set_operator(conn, &user.id, on).map_err(|e| e.to_string())?;
        let action = if on { "user.make_operator" } else { "user.remove_operator" };
        let details = serde_json::json!({ "before": user.is_operator, "after": on });
        audit::record(conn, &operator(), user_event(&user, action, details), now)
            .map_err(|e| e.to_string())?;
        Ok(format!("{} is now {what}", user.email))
    })
}

/// Ends every console session of a person at once (a lost laptop, a departure); their
/// credentials are untouched.
pub fn sign_out_everywhere(pool: &DbPool, clock: &dyn Clock, email: &str) -> Result<String, String> {
    let email = EmailAddress::parse(email)?;
    let now = clock.now();
    transaction(pool, |conn| {
        let user = find_user(conn, &email)?.ok_or_else(|| format!("no user with email {email}"))?;
        let ended = crate::db::sessions::end_all(conn, &user.id).map_err(|e| e.to_string())?;
        let details = serde_json::json!({ "scope": "all", "sessions": ended });
        let event = user_event(&user, "auth.sessions_ended", details);
        audit::record_for_person(conn, &operator(), event, Some(&user.id), now).map_err(|e| e.to_string())?;
        Ok(format!("{} signed out of {ended} session(s)", user.email))
    })
}

pub fn set_plan(
    pool: &DbPool,
    clock: &dyn Clock,
    slug: &str,
    plan: &str,
    cap: Option<u32>,
) -> Result<String, String> {
    let slug = OrgSlug::parse(slug)?;
    let plan = parse_plan(plan)?;
    if cap.is_some_and(|c| c > MAX_CAP) {
        return Err(format!("--cap must be at most {MAX_CAP}"));
    }
    let cap = cap.and_then(|c| i32::try_from(c).ok());
    let now = clock.now();
    transaction(pool, |conn| {
        let org = find(conn, &slug)?;
        orgs::set_plan(conn, &org.id, plan, cap).map_err(|e| e.to_string())?;
        let details = serde_json::json!({
            "before": { "plan": org.plan, "cap": org.credential_cap },
            "after": { "plan": plan.as_str(), "cap": cap },
        });
        audit::record(conn, &operator(), org_event(&org, "org.set_plan", details), now)
            .map_err(|e| e.to_string())?;
        let cap_text = cap.map_or_else(|| "the plan's default cap".to_owned(), |c| format!("a cap of {c}"));
        Ok(format!("org {slug} is on the {} plan with {cap_text}", plan.as_str()))
    })
}

pub fn set_api_access(pool: &DbPool, clock: &dyn Clock, slug: &str, on: bool) -> Result<String, String> {
    let slug = OrgSlug::parse(slug)?;
    let now = clock.now();
    transaction(pool, |conn| {
        let org = find(conn, &slug)?;
        orgs::set_api_access(conn, &org.id, on).map_err(|e| e.to_string())?;
        let details = serde_json::json!({ "before": org.api_access, "after": on });
        audit::record(
            conn,
            &operator(),
            org_event(&org, crate::db::changes::API_ACCESS_ACTION, details),
            now,
        )
        .map_err(|e| e.to_string())?;
        Ok(format!("API access for org {slug} is {}", if on { "on" } else { "off" }))
    })
}

/// Makes a platform resource server credential, which may introspect any org's credentials.
/// Its secret is printed once, here, and stored only as a hash.
pub fn create_resource_server(
    pool: &DbPool,
    clock: &dyn Clock,
    prefixes: &crate::credentials::Prefixes,
    name: &str,
) -> Result<String, String> {
    use crate::db::resource_servers::{self, ResourceServer};
    let name =
        crate::credentials::CredentialName::parse(name).map_err(|e| format!("resource server name: {e}"))?;
    let now = clock.now();
    let plain = crate::credentials::secret::generate_prefixed(&prefixes.resource_server);
    let server = ResourceServer {
        id: new_id(),
        name: name.as_str().to_owned(),
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(prefixes.resource_server.len()),
        created_at: now,
        revoked_at: None,
    };
    transaction(pool, |conn| {
        if resource_servers::find_by_name(conn, &server.name).map_err(|e| e.to_string())?.is_some() {
            return Err(format!("a resource server named {:?} already exists", server.name));
        }
        resource_servers::insert(conn, &server).map_err(|e| e.to_string())?;
        let event = AuditEvent {
            org_id: None,
            action: "resource_server.create",
            target_type: Some("resource_server"),
            target_id: Some(&server.id),
            target_label: Some(&server.name),
            details: serde_json::json!({ "display_prefix": server.display_prefix }),
        };
        audit::record(conn, &operator(), event, now).map_err(|e| e.to_string())?;
        Ok(())
    })?;
    Ok(format!(
        "Created resource server {:?}. Its secret, shown only now:\n{}\nIt may call POST /api/v1/introspect for any organization.",
        server.name,
        plain.expose()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(OrgSlug::parse("acme").is_ok());
        assert!(OrgSlug::parse("acme-2").is_ok());
        for bad in ["a", "-acme", "Acme", "ac me", "acme/../x", &"a".repeat(41)] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
