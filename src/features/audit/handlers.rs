//! Settings → Audit log and its CSV export. Every route answers 404 outside the org (the
//! extractor) and 403 to members; owners, admins, auditors and platform operators read.
//! `/operator/audit` is the same page over the whole instance, for platform operators only.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream::{self, StreamExt};
use serde::Deserialize;

use super::export::{self, Progress, EXPORT_CAP};
use super::path;
use super::views::{AuditPage, AuditRow, FilterForm};
use crate::auth::{OrgMember, SignedIn};
use crate::db::audit::{self, AuditFilter, Cursor, Scope, Window, INSTANCE_ACTIONS, ORG_ACTIONS};
use crate::db::{self, orgs, DbConnection};
use crate::error::AppError;
use crate::service::audit_filter::{parse_cursor, FilterInput};
use crate::service::fields::FormErrors;
use crate::state::AppState;
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

    fn form(
        &self,
        actions: &'static [&'static str],
        errors: FormErrors,
        error: Option<String>,
    ) -> FilterForm {
        let echo = |value: &Option<String>| -> String {
            value.as_deref().unwrap_or_default().trim().chars().take(ECHO_CHARS).collect()
        };
        FilterForm {
            actions,
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

/// Which log a page reads, and how it is framed.
struct Log {
    scope: Scope,
    actions: &'static [&'static str],
    base_path: String,
    chrome: Chrome,
}

impl Log {
    fn of_org(member: &OrgMember) -> Result<Self, AppError> {
        Ok(Self {
            scope: Scope::Org(member.org.id.clone()),
            actions: &ORG_ACTIONS,
            base_path: path(&member.org.slug),
            chrome: Chrome::of(member, "audit")?,
        })
    }

    /// Anyone but a platform operator gets 404, as for any page that is not theirs.
    async fn of_instance(state: &AppState, who: &SignedIn) -> Result<Self, AppError> {
        if !who.user.is_operator {
            return Err(AppError::NotFound);
        }
        let user_id = who.user.id.clone();
        let memberships = db::run(&state.pool, move |conn| Ok(orgs::orgs_of(conn, &user_id)?)).await?;
        let mut chrome = Chrome::for_account(who, &memberships, "operator")?;
        chrome.org_name = "All organizations".into();
        Ok(Self {
            scope: Scope::Instance,
            actions: &INSTANCE_ACTIONS,
            base_path: INSTANCE_PATH.into(),
            chrome,
        })
    }

    fn filter(&self, params: &PageParams) -> Result<AuditFilter, FormErrors> {
        params.input().parse_among(self.actions)
    }
}

pub const INSTANCE_PATH: &str = "/operator/audit";

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    show(&req, &state, Log::of_org(&member)?, params.into_inner()).await
}

pub async fn instance_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let log = Log::of_instance(&state, &who).await?;
    show(&req, &state, log, params.into_inner()).await
}

async fn show(
    req: &HttpRequest,
    state: &AppState,
    log: Log,
    params: PageParams,
) -> Result<HttpResponse, AppError> {
    let Log { scope, actions, base_path, chrome } = log;
    let instance = scope == Scope::Instance;
    let parsed = params.input().parse_among(actions);
    let window = params.window();
    let (filter, window) = match (parsed, window) {
        (Ok(filter), Ok(window)) => (filter, window),
        (parsed, window) => {
            let errors = parsed.err().unwrap_or_default();
            let people = db::run(&state.pool, move |conn| Ok(people_of(conn, &scope)?)).await?;
            let page = AuditPage {
                chrome,
                form: params.form(actions, errors, window.err()),
                rows: Vec::new(),
                total: None,
                newest_link: Some(base_path.clone()),
                newer_link: None,
                older_link: None,
                export_link: format!("{base_path}/export"),
                export_cap: None,
                base_path,
                people,
                instance,
            };
            return respond(req, StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let now = state.clock.now();
    let (slice, window, total, people) = db::run(&state.pool, move |conn| {
        let mut window = window;
        let mut slice = audit::search(conn, &scope, &filter, &window, PAGE_SIZE)?;
        if matches!(window, Window::After(_)) && !slice.more {
            // Back at the newest entries: show the first page, with its usual boundaries.
            window = Window::Newest;
            slice = audit::search(conn, &scope, &filter, &window, PAGE_SIZE)?;
        }
        let total = audit::count(conn, &scope, &filter)?;
        Ok((slice, window, total, people_of(conn, &scope)?))
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
        chrome,
        form: params.form(actions, FormErrors::default(), None),
        newest_link: (!newest).then(|| link(None)),
        newer_link: first.as_ref().filter(|_| !newest).map(|c| link(Some(("after", c)))),
        older_link: last.as_ref().filter(|_| older).map(|c| link(Some(("before", c)))),
        export_link: with_query(&format!("{base_path}/export"), &params.query(None)),
        export_cap: (total > EXPORT_CAP).then_some(EXPORT_CAP),
        total: Some(total),
        rows: slice.records.into_iter().map(|r| AuditRow::of(r, now)).collect(),
        base_path,
        people,
        instance,
    };
    respond(req, StatusCode::OK, &page)
}

/// People offered as actors: the org's, or (instance-wide) the first of everyone's.
fn people_of(conn: &mut DbConnection, scope: &Scope) -> diesel::QueryResult<Vec<String>> {
    Ok(match scope {
        Scope::Org(org_id) => orgs::members_of(conn, org_id)?.into_iter().map(|m| m.user.email).collect(),
        Scope::Instance => orgs::all_users(conn)?.into_iter().take(PEOPLE_OFFERED).map(|u| u.email).collect(),
    })
}

/// The instance-wide log's actor suggestions stop here; typing still filters on anyone.
const PEOPLE_OFFERED: usize = 500;

/// Every entry the filters match, newest first, as a CSV download.
pub async fn export(
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let slug: String =
        member.org.slug.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    download(&state, Log::of_org(&member)?, &params, &slug).await
}

pub async fn instance_export(
    state: web::Data<AppState>,
    who: SignedIn,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, AppError> {
    let log = Log::of_instance(&state, &who).await?;
    download(&state, log, &params, "all").await
}

async fn download(
    state: &AppState,
    log: Log,
    params: &PageParams,
    label: &str,
) -> Result<HttpResponse, AppError> {
    let filter: AuditFilter = log.filter(params).map_err(|errors| {
        let why: Vec<String> =
            errors.fields().map(|(field, message)| format!("{field}: {message}")).collect();
        AppError::BadRequest(format!("The filters could not be read. {}", why.join(" ")))
    })?;
    let (scope, now) = (log.scope, state.clock.now());
    let total = {
        let (scope, filter) = (scope.clone(), filter.clone());
        db::run(&state.pool, move |conn| Ok(audit::count(conn, &scope, &filter)?)).await?
    };
    let pool = state.pool.clone();
    let header = export::header(&scope);
    let chunks = stream::unfold(Some(Progress::start()), move |progress| {
        let (pool, scope, filter) = (pool.clone(), scope.clone(), filter.clone());
        async move {
            let progress = progress?;
            Some(match export::next_chunk(&pool, scope, filter, progress, now).await {
                Ok((bytes, next)) => (Ok(bytes), next),
                // The download fails visibly rather than ending early looking whole.
                Err(e) => (Err(e), None),
            })
        }
    });
    let body = stream::once(async { header }).chain(chunks);
    let filename = format!("tessera-audit-{label}-{}.csv", now.format("%Y%m%d"));
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
