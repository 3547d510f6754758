//! Account → Sessions: where a person is signed in, and ending any of those sessions. Ending one
//! deletes its server-side record, so a copied cookie stops working at once.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::SignedIn;
use crate::db::audit::{self, AuditEvent};
use crate::db::sessions::{self, SessionSummary};
use crate::db::{self, orgs};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, Chrome, Moment};

const PATH: &str = "/account/sessions";

pub struct SessionRow {
    pub public_id: String,
    pub current: bool,
    pub started: Moment,
    pub last_seen: Moment,
    pub address: String,
    pub browser: String,
    pub user_agent: String,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
pub struct SessionsPage {
    pub chrome: Chrome,
    pub rows: Vec<SessionRow>,
}

pub async fn page(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, AppError> {
    let (user_id, now) = (who.user.id.clone(), state.clock.now());
    let (memberships, live) = db::run(&state.pool, move |conn| {
        Ok((orgs::orgs_of(conn, &user_id)?, sessions::of_user(conn, &user_id, now)?))
    })
    .await?;
    let current = who.session.public_id()?;
    let rows = live.into_iter().map(|s| row(s, current.as_deref(), now)).collect();
    render(&SessionsPage { chrome: Chrome::for_account(&who, &memberships, "sessions")?, rows })
}

fn row(session: SessionSummary, current: Option<&str>, now: chrono::NaiveDateTime) -> SessionRow {
    let user_agent = session.user_agent.unwrap_or_default();
    SessionRow {
        current: current == Some(session.public_id.as_str()),
        started: Moment::of(session.created_at, now),
        last_seen: Moment::of(session.last_seen_at, now),
        address: session.ip.unwrap_or_else(|| "unknown".into()),
        browser: browser_label(&user_agent),
        user_agent,
        public_id: session.public_id,
    }
}

/// "Firefox on Linux" from a user agent: enough to recognise one's own devices.
pub fn browser_label(user_agent: &str) -> String {
    const BROWSERS: [(&str, &str); 7] = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(marker, _)| user_agent.contains(marker)).map(|(_, name)| *name);
    let system = SYSTEMS.iter().find(|(marker, _)| user_agent.contains(marker)).map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(browser), None) => browser.to_owned(),
        (None, Some(system)) => format!("A browser on {system}"),
        (None, None) if user_agent.is_empty() => "Unknown browser".to_owned(),
        (None, None) => "Other client".to_owned(),
    }
}

/// Ends one of the person's own sessions (another person's id reads as absent).
pub async fn end(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let public_id = path.into_inner();
    if who.session.public_id()?.as_deref() == Some(public_id.as_str()) {
        // This very session: the same as signing out.
        return crate::auth::dev_login::end_current_session(&state, who).await;
    }
    let (user_id, actor, now) = (who.user.id.clone(), who.actor(), state.clock.now());
    let ended = db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| {
            if !sessions::end_one(conn, &user_id, &public_id)? {
                return Ok(false);
            }
            record(conn, &actor, serde_json::json!({ "scope": "one", "sessions": 1 }), now)?;
            Ok::<_, diesel::result::Error>(true)
        })?)
    })
    .await?;
    if ended {
        Ok(see_other(PATH))
    } else {
        Err(AppError::NotFound)
    }
}

/// "Sign out all other sessions": every session of the person but this one.
pub async fn end_others(
    state: web::Data<AppState>,
    who: SignedIn,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let keep = who.session.public_id()?.unwrap_or_default();
    let (user_id, actor, now) = (who.user.id.clone(), who.actor(), state.clock.now());
    db::run(&state.pool, move |conn| {
        use diesel::Connection;
        Ok(conn.transaction(|conn| {
            let ended = sessions::end_others(conn, &user_id, &keep)?;
            record(conn, &actor, serde_json::json!({ "scope": "others", "sessions": ended }), now)
        })?)
    })
    .await?;
    Ok(see_other(PATH))
}

fn record(
    conn: &mut db::DbConnection,
    actor: &audit::Actor,
    details: serde_json::Value,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    let event = AuditEvent {
        org_id: None,
        action: "auth.sessions_ended",
        target_type: Some("user"),
        target_id: actor.user_id.as_deref(),
        target_label: Some(&actor.label),
        details,
    };
    audit::record_for_person(conn, actor, event, actor.user_id.as_deref(), now)
}

#[cfg(test)]
mod tests {
    use super::browser_label;

    #[test]
    fn browsers_are_named_plainly() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(browser_label(chrome), "Chrome on Linux");
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(browser_label(firefox), "Firefox on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_label(safari), "Safari on iOS");
        assert_eq!(browser_label(""), "Unknown browser");
        assert_eq!(browser_label("curl/8.5.0"), "curl");
    }
}
