//! Settings → Audit log and its CSV export. Every route answers 404 outside the org (the
//! extractor) and 403 to members; owners, admins, auditors and platform operators read.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;

use super::export::{self, Progress, EXPORT_CAP};
use super::filter::{parse_cursor, FilterInput};
use super::path;
use super::views::{AuditPage, AuditRow, FilterForm};
use crate::auth::OrgMember;
use crate::db::audit::{self, AuditFilter, Cursor, Window};
use crate::db::{self, orgs, DbConnection};
use crate::error::AppError;
use crate::features::forms::FormErrors;
use crate::startup::AppState;
use crate::views::{is_htmx, render_with, Chrome};

/// Entries on a page.
pub const PAGE_SIZE: i64 = 50;
/// The longest value of a field echoed back into the form.
const ECHO_CHARS: usize = 120;

/// The page's query: the filters, and at most one of `before` (older entries) and `after`
/// (newer ones), each a cursor the page itself made.
#[derive(Debug, Default, Deserialize)]
pub struct PageParams {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub credential: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl PageParams {
    fn input(&self) -> FilterInput<'_> {
        FilterInput {
            action: self.action.as_deref(),
            actor: self.actor.as_deref(),
            credential: self.credential.as_deref(),
            from: self.from.as_deref(),
            to: self.to.as_deref(),
        }
    }

    fn window(&self) -> Result<Window, String> {
        fn given(raw: &Option<String>) -> Option<&str> {
            raw.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (given(&self.before), given(&self.after)) {
            (None, None) => Ok(Window::Newest),
            (Some(before), None) => parse_cursor(before).map(Window::Before),
            (None, Some(after)) => parse_cursor(after).map(Window::After),
            (Some(_), Some(_)) => Err("A page is either before or after an entry, not both.".to_owned()),
        }
    }

    /// The filters as a query string (without the cursor), for links that keep them.
    fn query(&self, cursor: Option<(&str, &Cursor)>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let fields = [
            ("action", &self.action),
            ("actor", &self.actor),
            ("credential", &self.credential),
            ("from", &self.from),
            ("to", &self.to),
        ];
        for (name, value) in fields {
            if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                query.append_pair(name, value);
            }
        }
        if let Some((name, cursor)) = cursor {
            query.append_pair(name, &cursor.encode());
        }
        query.finish()
    }

    fn form(&self, errors: FormErrors, error: Option<String>) -> FilterForm {
        let echo = |value: &Option<String>| -> String {
            value.as_deref().unwrap_or_default().trim().chars().take(ECHO_CHARS).collect()
        };
        FilterForm {
            action: echo(&self.action),
            actor: echo(&self.actor),
            credential: echo(&self.credential),
            from: echo(&self.from),
            to: echo(&self.to),
            errors,
            error,
        }
    }
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

fn require_read(member: &OrgMember) -> Result<(), AppError> {
    if member.access.can_read_audit() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Only owners, admins and auditors of {} can read its audit log.",
            member.org.name
        )))
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let params = params.into_inner();
    let base_path = path(&member.org.slug);
    let org_id = member.org.id.clone();
    let parsed = params.input().parse();
    let window = params.window();
    let (filter, window) = match (parsed, window) {
        (Ok(filter), Ok(window)) => (filter, window),
        (parsed, window) => {
            let errors = parsed.err().unwrap_or_default();
            let people = db::run(&state.pool, move |conn| Ok(people_of(conn, &org_id)?)).await?;
            let page = AuditPage {
                chrome: Chrome::of(&member, "audit")?,
                form: params.form(errors, window.err()),
                rows: Vec::new(),
                total: None,
                newest_link: Some(base_path.clone()),
                newer_link: None,
                older_link: None,
                export_link: format!("{base_path}/export"),
                export_cap: None,
                base_path,
                people,
            };
            return respond(&req, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let now = state.clock.now();
    let (slice, window, total, people) = db::run(&state.pool, move |conn| {
        let mut window = window;
        let mut slice = audit::search(conn, &org_id, &filter, &window, PAGE_SIZE)?;
        if matches!(window, Window::After(_)) && !slice.more {
            // Back at the newest entries: show the first page, with its usual boundaries.
            window = Window::Newest;
            slice = audit::search(conn, &org_id, &filter, &window, PAGE_SIZE)?;
        }
        let total = audit::count(conn, &org_id, &filter)?;
        Ok((slice, window, total, people_of(conn, &org_id)?))
    })
    .await?;
    let first = slice.records.first().map(|r| Cursor::of(&r.entry));
    let last = slice.records.last().map(|r| Cursor::of(&r.entry));
    let newest = window == Window::Newest;
    let older = match window {
        Window::After(_) => true,
        Window::Newest | Window::Before(_) => slice.more,
    };
    let link = |cursor: Option<(&str, &Cursor)>| with_query(&base_path, &params.query(cursor));
    let page = AuditPage {
        chrome: Chrome::of(&member, "audit")?,
        form: params.form(FormErrors::default(), None),
        newest_link: (!newest).then(|| link(None)),
        newer_link: first.as_ref().filter(|_| !newest).map(|c| link(Some(("after", c)))),
        older_link: last.as_ref().filter(|_| older).map(|c| link(Some(("before", c)))),
        export_link: with_query(&format!("{base_path}/export"), &params.query(None)),
        export_cap: (total > EXPORT_CAP).then_some(EXPORT_CAP),
        total: Some(total),
        rows: slice.records.into_iter().map(|r| AuditRow::of(r, now)).collect(),
        base_path,
        people,
    };
    respond(&req, StatusCode::OK, &page)
}

/// The org's people by email, offered as actors.
fn people_of(conn: &mut DbConnection, org_id: &str) -> diesel::QueryResult<Vec<String>> {
    Ok(orgs::members_of(conn, org_id)?.into_iter().map(|m| m.user.email).collect())
}

/// Every entry the filters match, newest first, as a CSV download.
pub async fn export(
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let filter: AuditFilter = params.input().parse().map_err(|errors| {
        let why: Vec<String> =
            errors.fields().map(|(field, message)| format!("{field}: {message}")).collect();
        AppError::BadRequest(format!("The filters could not be read. {}", why.join(" ")))
    })?;
    let (org_id, now) = (member.org.id.clone(), state.clock.now());
    let total = {
        let (org_id, filter) = (org_id.clone(), filter.clone());
        db::run(&state.pool, move |conn| Ok(audit::count(conn, &org_id, &filter)?)).await?
    };
    let pool = state.pool.clone();
    let chunks = stream::unfold(Some(Progress::start()), move |progress| {
        let (pool, org_id, filter) = (pool.clone(), org_id.clone(), filter.clone());
        async move {
            let progress = progress?;
            Some(match export::next_chunk(&pool, org_id, filter, progress, now).await {
                Ok((bytes, next)) => (Ok(bytes), next),
                // The download fails visibly rather than ending early looking whole.
                Err(e) => (Err(e), None),
            })
        }
    });
    let body = stream::once(async { export::header() }).chain(chunks);
    let slug: String =
        member.org.slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let filename = format!("tessera-audit-{slug}-{}.csv", now.format("%Y%m%d"));
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if total > EXPORT_CAP {
        response
            .insert_header(("X-Tessera-Export-Truncated", format!("newest {EXPORT_CAP} of {total} entries")));
    }
    Ok(response.streaming(body))
}

/// The whole page, or only the panel for htmx.
fn respond(req: &HttpRequest, status: StatusCode, page: &AuditPage) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        render_with(status, &page.as_panel())
    } else {
        render_with(status, page)
    }
}
