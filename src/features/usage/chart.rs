//! Requests per day as a server-rendered SVG bar chart: the days (UTC, zero-filled), the bars'
//! geometry in whole units of the chart's own coordinates, and the sentences that describe it to
//! people who cannot see it. Colours and type come from classes in the style sheet: the CSP
//! allows no inline style.

use chrono::{Datelike, NaiveDate, TimeDelta};

/// How many days a chart shows, today included.
pub const DAYS: i64 = 30;

/// One UTC day of one credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub requests: i64,
    pub failed: i64,
}

impl Day {
    /// `12 Nov`, as axis labels and sentences say it.
    pub fn short(&self) -> String {
        self.date.format("%-d %b").to_string()
    }

    /// `12 Nov 2026`.
    pub fn long(&self) -> String {
        self.date.format("%-d %b %Y").to_string()
    }

    pub fn iso(&self) -> String {
        self.date.format("%Y-%m-%d").to_string()
    }
}

/// The first day of the window that ends with `today`.
pub fn first_day(today: NaiveDate) -> NaiveDate {
    today - TimeDelta::days(DAYS - 1)
}

/// The `DAYS` days ending with `today`, oldest first; a day with no row had no use.
pub fn last_days(today: NaiveDate, rows: &[(NaiveDate, i64, i64)]) -> Vec<Day> {
    let first = first_day(today);
    (0..DAYS)
        .map(|offset| {
            let date = first + TimeDelta::days(offset);
            let (requests, failed) = rows
                .iter()
                .filter(|(day, _, _)| *day == date)
                .fold((0, 0), |(r, f), (_, requests, failed)| (r + requests, f + failed));
            Day { date, requests, failed }
        })
        .collect()
}

// The chart's coordinate system (the SVG's viewBox); CSS scales it to the page.
pub const WIDTH: u32 = 632;
pub const HEIGHT: u32 = 200;
const LEFT: u32 = 42;
const TOP: u32 = 10;
const PLOT_HEIGHT: u32 = 164;
const SLOT: u32 = 19;
const BAR_WIDTH: u32 = 15;
/// Where the bars stand.
pub const BASELINE: u32 = TOP + PLOT_HEIGHT;
pub const PLOT_LEFT: u32 = LEFT;
pub const PLOT_RIGHT: u32 = LEFT + SLOT * DAYS as u32;

pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub value: i64,
    /// `2026-11-12`
    pub date: String,
    /// What a pointer hovering the bar is told: `12 Nov 2026: 210 requests`.
    pub label: String,
}

/// A labelled position on an axis.
pub struct Tick {
    pub at: u32,
    pub label: String,
}

pub struct BarChart {
    /// Prefix of the ids of the SVG's `<title>` and `<desc>`, unique on the page.
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub bars: Vec<Bar>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub total: i64,
}

impl BarChart {
    /// A chart of one measure of `days`; `what` names it (`Requests per day`), `unit` counts it
    /// (`request`, `requests`).
    pub fn new(
        id: &'static str,
        what: &str,
        unit: (&str, &str),
        days: &[Day],
        value: impl Fn(&Day) -> i64,
    ) -> Self {
        let values: Vec<i64> = days.iter().map(|d| value(d).max(0)).collect();
        let total = values.iter().sum();
        let top = nice_ceiling(values.iter().copied().max().unwrap_or(0));
        let count = |n: i64| format!("{} {}", grouped(n), if n == 1 { unit.0 } else { unit.1 });
        let bars = days
            .iter()
            .zip(&values)
            .enumerate()
            .map(|(i, (day, &v))| {
                let height = scaled(v, top);
                Bar {
                    x: LEFT + SLOT * i as u32 + (SLOT - BAR_WIDTH) / 2,
                    y: BASELINE - height,
                    width: BAR_WIDTH,
                    height,
                    value: v,
                    date: day.iso(),
                    label: format!("{}: {}", day.long(), count(v)),
                }
            })
            .collect();
        let mut y_ticks = vec![Tick { at: BASELINE, label: "0".into() }];
        if top % 2 == 0 {
            y_ticks.push(Tick { at: BASELINE - scaled(top / 2, top), label: grouped(top / 2) });
        }
        y_ticks.push(Tick { at: TOP, label: grouped(top) });
        // Every seventh day back from today, so today is always labelled.
        let x_ticks = days
            .iter()
            .enumerate()
            .filter(|(i, _)| (days.len() - 1 - i) % 7 == 0)
            .map(|(i, day)| Tick { at: LEFT + SLOT * i as u32 + SLOT / 2, label: day.short() })
            .collect();
        Self {
            id,
            title: format!("{what}, last {DAYS} days (UTC)"),
            desc: describe(what, days, &values),
            bars,
            y_ticks,
            x_ticks,
            total,
        }
    }

    pub fn title_id(&self) -> String {
        format!("{}-title", self.id)
    }

    pub fn desc_id(&self) -> String {
        format!("{}-desc", self.id)
    }
}

/// `Requests per day, 24 Oct to 22 Nov 2026: 1,234 in total, most on 12 Nov (210).`
fn describe(what: &str, days: &[Day], values: &[i64]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return format!("{what}: no days.");
    };
    let range = if first.date.year() == last.date.year() {
        format!("{} to {}", first.short(), last.long())
    } else {
        format!("{} to {}", first.long(), last.long())
    };
    let total: i64 = values.iter().sum();
    // `max_by_key` keeps the last of equal peaks: the most recent, what changed lately.
    let peak = days.iter().zip(values).max_by_key(|(_, v)| **v);
    match peak {
        Some((day, &most)) if total > 0 => format!(
            "{what}, {range}: {} in total, most on {} ({}).",
            grouped(total),
            day.short(),
            grouped(most)
        ),
        _ => format!("{what}, {range}: none."),
    }
}

/// The bar height of `value` on a scale whose top is `top`; anything above zero stays visible.
fn scaled(value: i64, top: i64) -> u32 {
    if value <= 0 || top <= 0 {
        return 0;
    }
    let height = (value as f64 / top as f64 * f64::from(PLOT_HEIGHT)).round() as u32;
    height.clamp(1, PLOT_HEIGHT)
}

/// The smallest 1, 2 or 5 times a power of ten that is at least `max` (1 for nothing).
pub fn nice_ceiling(max: i64) -> i64 {
    let mut step: i64 = 1;
    loop {
        for m in [1_i64, 2, 5] {
            match m.checked_mul(step) {
                Some(candidate) if candidate >= max => return candidate,
                Some(_) => {}
                None => return max,
            }
        }
        step = match step.checked_mul(10) {
            Some(next) => next,
            None => return max,
        };
    }
}

/// `1234567` → `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn thirty_days_ending_today_zero_filled() {
        let today = date(2026, 11, 22);
        let rows = [(date(2026, 11, 12), 210, 2), (date(2026, 10, 1), 99, 0), (date(2026, 10, 24), 5, 0)];
        let days = last_days(today, &rows);
        assert_eq!(days.len(), 30);
        assert_eq!(days[0].date, date(2026, 10, 24));
        assert_eq!(days[29].date, today);
        assert_eq!(days[0].requests, 5);
        assert_eq!(days.iter().map(|d| d.requests).sum::<i64>(), 215, "a day before the window is left out");
        assert_eq!(days.iter().filter(|d| d.requests == 0).count(), 28);
        assert_eq!(days[19], Day { date: date(2026, 11, 12), requests: 210, failed: 2 });
    }

    #[test]
    fn the_description_says_range_total_and_peak() {
        let today = date(2026, 11, 22);
        let rows = [(date(2026, 11, 12), 210, 0), (date(2026, 11, 13), 1024, 0)];
        let days = last_days(today, &rows);
        let chart =
            BarChart::new("requests", "Requests per day", ("request", "requests"), &days, |d| d.requests);
        assert_eq!(
            chart.desc,
            "Requests per day, 24 Oct to 22 Nov 2026: 1,234 in total, most on 13 Nov (1,024)."
        );
        assert_eq!(chart.title, "Requests per day, last 30 days (UTC)");
        assert_eq!(chart.bars.len(), 30);
        assert_eq!(chart.total, 1234);
        let empty =
            BarChart::new("f", "Failed attempts per day", ("attempt", "attempts"), &days, |d| d.failed);
        assert_eq!(empty.desc, "Failed attempts per day, 24 Oct to 22 Nov 2026: none.");
        let across = last_days(date(2027, 1, 10), &[]);
        let chart = BarChart::new("r", "Requests per day", ("request", "requests"), &across, |d| d.requests);
        assert!(chart.desc.starts_with("Requests per day, 12 Dec 2026 to 10 Jan 2027: "), "{}", chart.desc);
    }

    #[test]
    fn bars_scale_to_a_round_top_and_small_values_stay_visible() {
        let today = date(2026, 11, 22);
        let rows = [(date(2026, 11, 20), 1000, 0), (date(2026, 11, 21), 1, 0)];
        let chart =
            BarChart::new("r", "Requests per day", ("request", "requests"), &last_days(today, &rows), |d| {
                d.requests
            });
        let tallest = &chart.bars[27];
        assert_eq!((tallest.height, tallest.y + tallest.height), (PLOT_HEIGHT, BASELINE));
        assert_eq!(chart.bars[28].height, 1, "one request is still a bar");
        assert_eq!(chart.bars[29].height, 0);
        assert_eq!(chart.bars[28].label, "21 Nov 2026: 1 request");
        assert_eq!(chart.y_ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["0", "500", "1,000"]);
        assert_eq!(chart.x_ticks.last().map(|t| t.label.as_str()), Some("22 Nov"));
        assert!(chart.bars.iter().all(|b| b.x + b.width <= PLOT_RIGHT && b.x >= PLOT_LEFT));
    }

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(210), 500);
        assert_eq!(nice_ceiling(1000), 1000);
        assert_eq!(nice_ceiling(i64::MAX), i64::MAX);
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234), "1,234");
        assert_eq!(grouped(-1234567), "-1,234,567");
    }
}
