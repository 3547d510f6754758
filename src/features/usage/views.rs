use askama::Template;

use super::chart::{self, BarChart, Day};
use super::history::HistoryItem;
use super::reports::{ReportRow, StaleFilter};
use super::CredentialFacts;
use crate::service::inputs::Grace;
use crate::views::{Chrome, Moment};

#[derive(Template)]
#[template(path = "usage/page.html")]
pub struct UsagePage {
    pub chrome: Chrome,
    pub credential: CredentialFacts,
    pub description: Option<String>,
    /// The chart's days, oldest first, for the table beside it.
    pub days: Vec<Day>,
    pub requests: BarChart,
    /// None when nothing failed in the window: a sentence says so instead of an empty chart.
    pub failed: Option<BarChart>,
    pub failed_total: i64,
    pub addresses: Vec<AddressView>,
    pub history: Vec<HistoryItem>,
    pub history_truncated: bool,
    pub reports_path: String,
}

impl UsagePage {
    pub fn requests_total(&self) -> String {
        chart::grouped(self.requests.total)
    }

    pub fn failed_total_text(&self) -> String {
        chart::grouped(self.failed_total)
    }
}

pub struct AddressView {
    pub ip: String,
    pub last_seen: Moment,
}

#[derive(Template)]
#[template(path = "usage/reports.html")]
pub struct ReportsPage {
    pub chrome: Chrome,
    pub filter: StaleFilter,
    /// (filter, link, current)
    pub filters: Vec<(StaleFilter, String, bool)>,
    pub stale: Vec<ReportRow>,
    pub expiring: Vec<ReportRow>,
    pub expiring_days: i64,
    /// The most rows a section shows; a full section says so.
    pub limit: i64,
    pub graces: [Grace; 4],
}

impl ReportsPage {
    pub fn stale_actions(&self) -> bool {
        self.stale.iter().any(ReportRow::has_actions)
    }

    pub fn expiring_actions(&self) -> bool {
        self.expiring.iter().any(ReportRow::has_actions)
    }
}

impl Day {
    pub fn requests_text(&self) -> String {
        chart::grouped(self.requests)
    }

    pub fn failed_text(&self) -> String {
        chart::grouped(self.failed)
    }
}

impl BarChart {
    pub fn width(&self) -> u32 {
        chart::WIDTH
    }

    pub fn height(&self) -> u32 {
        chart::HEIGHT
    }

    pub fn plot_left(&self) -> u32 {
        chart::PLOT_LEFT
    }

    pub fn plot_right(&self) -> u32 {
        chart::PLOT_RIGHT
    }

    pub fn baseline(&self) -> u32 {
        chart::BASELINE
    }

    /// Where the y labels end, just left of the plot.
    pub fn y_label_x(&self) -> u32 {
        chart::PLOT_LEFT - 6
    }

    /// The baseline of the x labels.
    pub fn x_label_y(&self) -> u32 {
        chart::HEIGHT - 8
    }
}
