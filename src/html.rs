//! Rendering a page with a status, and times as people read them: plain helpers below the
//! adapters, so sign-in pages and console pages share them.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use askama::Template;
use chrono::NaiveDateTime;
use chrono_humanize::{Accuracy, HumanTime, Tense};

use crate::error::AppError;

pub fn render<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    render_with(StatusCode::OK, page)
}

pub fn render_with<T: Template>(status: StatusCode, page: &T) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "HX-Request"))
        .body(body))
}

/// A point in time as people read it: relative, with the absolute UTC time for a tooltip.
#[derive(Debug, Clone)]
pub struct Moment {
    pub relative: String,
    pub utc: String,
    pub iso: String,
}

impl Moment {
    pub fn of(at: NaiveDateTime, now: NaiveDateTime) -> Self {
        let delta = at - now;
        let tense = if delta > chrono::TimeDelta::zero() { Tense::Future } else { Tense::Past };
        let relative = if delta.num_seconds().abs() < 45 {
            "just now".to_owned()
        } else {
            HumanTime::from(delta).to_text_en(Accuracy::Rough, tense)
        };
        Self {
            relative,
            utc: at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            iso: at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }
}

/// Whether an htmx request asked for a fragment rather than a whole page.
pub fn is_htmx(req: &actix_web::HttpRequest) -> bool {
    req.headers().contains_key("HX-Request") && !req.headers().contains_key("HX-History-Restore-Request")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeDelta};

    #[test]
    fn moments_read_naturally() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(Moment::of(now - TimeDelta::seconds(5), now).relative, "just now");
        assert_eq!(Moment::of(now - TimeDelta::hours(3), now).relative, "3 hours ago");
        assert_eq!(Moment::of(now + TimeDelta::days(30), now).relative, "in a month");
        assert_eq!(Moment::of(now, now).utc, "2026-11-23 12:00:00 UTC");
    }
}
