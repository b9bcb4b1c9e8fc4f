//! Time, in one place. The engine represents a point in time as nanoseconds since the Unix epoch
//! (`i64`, UTC): snapshots, file times, locks and retention all use it. This module reads the
//! clock, converts to and from that representation, and does the civil-calendar arithmetic
//! (proleptic Gregorian, no time zones: callers pass an offset where local time matters).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const NS_PER_SEC: i64 = 1_000_000_000;
pub const HOUR_SECS: i64 = 3_600;
pub const DAY_SECS: i64 = 86_400;

/// Nanoseconds since the Unix epoch now (0 if the clock is before it).
pub fn now_ns() -> i64 {
    ns_since_epoch(SystemTime::now())
}

/// `t` in nanoseconds since the Unix epoch: 0 before the epoch, `i64::MAX` after the year 2262.
pub fn ns_since_epoch(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, duration_ns)
}

/// A duration in nanoseconds, `i64::MAX` beyond about 292 years.
pub fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// How long ago `t` was by this machine's clock; `None` when it is in the future.
pub fn age(t: SystemTime) -> Option<Duration> {
    SystemTime::now().duration_since(t).ok()
}

/// A file time as `stat(2)` gives it (seconds and nanoseconds since the epoch) in nanoseconds.
pub fn ns_from_stat(secs: i64, nsec: i64) -> i64 {
    secs * NS_PER_SEC + nsec
}

/// Whole seconds since the epoch and the nanoseconds into that second (`0..1e9`), rounding
/// towards the past, so times before 1970 split as `utimensat(2)` expects.
pub fn split_ns(ns: i64) -> (i64, u32) {
    let nanos = ns.rem_euclid(NS_PER_SEC);
    // rem_euclid is in 0..NS_PER_SEC, which fits a u32.
    (ns.div_euclid(NS_PER_SEC), nanos as u32)
}

/// `(year, month 1–12, day 1–31)` of a day number (days since 1970-01-01), after Howard
/// Hinnant's public-domain civil-from-days algorithm.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of the Monday that starts the ISO 8601 week containing `days`. Two days share
/// an ISO week (year and number) exactly when they share this Monday.
pub fn iso_week_monday(days: i64) -> i64 {
    // 1970-01-01 was a Thursday: three days after a Monday.
    days - (days + 3).rem_euclid(7)
}

/// Nanoseconds since the epoch as RFC 3339 UTC with nanosecond precision
/// (`2024-02-29T12:34:56.000000789Z`).
pub fn rfc3339(ns: i64) -> String {
    let (secs, nanos) = split_ns(ns);
    let (days, sod) = (secs.div_euclid(DAY_SECS), secs.rem_euclid(DAY_SECS));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / HOUR_SECS,
        (sod % HOUR_SECS) / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(civil_from_days(19_722), (2023, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn leap_years() {
        // 2000 is a leap year (divisible by 400), 1900 and 2100 are not (by 100), 2024 is (by 4).
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-25_509), (1900, 2, 28));
        assert_eq!(civil_from_days(-25_508), (1900, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn days_count_up_without_gaps() {
        // Walking day by day over four centuries (both sides of the epoch) never skips or
        // repeats a date.
        let mut prev = civil_from_days(-73_000);
        for days in -72_999..73_000 {
            let (y, m, d) = civil_from_days(days);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                [next_day, next_month, next_year].contains(&(y, m, d)),
                "{prev:?} -> {:?}",
                (y, m, d)
            );
            prev = (y, m, d);
        }
    }

    #[test]
    fn iso_weeks_start_on_monday() {
        // 2024-01-01 (day 19723) was a Monday; 2023-12-31 the Sunday before.
        assert_eq!(iso_week_monday(19_723), 19_723);
        assert_eq!(iso_week_monday(19_729), 19_723);
        assert_eq!(iso_week_monday(19_722), 19_716);
        // 1970-01-01 (Thursday) belongs to the week of Monday 1969-12-29.
        assert_eq!(iso_week_monday(0), -3);
        assert_eq!(iso_week_monday(-3), -3);
        assert_eq!(iso_week_monday(-4), -10);
    }

    #[test]
    fn rfc3339_in_utc_with_nanoseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            rfc3339(1_709_210_096 * NS_PER_SEC + 789),
            "2024-02-29T12:34:56.000000789Z"
        );
        assert_eq!(
            rfc3339(951_782_400 * NS_PER_SEC),
            "2000-02-29T00:00:00.000000000Z"
        );
    }

    #[test]
    fn nanosecond_conversions() {
        assert_eq!(split_ns(1_500_000_000), (1, 500_000_000));
        assert_eq!(split_ns(-1), (-1, 999_999_999));
        assert_eq!(ns_from_stat(-1, 999_999_999), -1);
        assert_eq!(ns_from_stat(1, 5), 1_000_000_005);
        assert_eq!(ns_since_epoch(UNIX_EPOCH - Duration::from_secs(1)), 0);
        assert_eq!(ns_since_epoch(UNIX_EPOCH + Duration::from_nanos(7)), 7);
        assert_eq!(duration_ns(Duration::from_secs(u64::MAX)), i64::MAX);
        assert!(now_ns() > 1_700_000_000 * NS_PER_SEC);
        assert!(age(SystemTime::now() + Duration::from_secs(60)).is_none());
    }
}
