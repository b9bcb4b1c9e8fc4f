//! The retention planner behind `vger prune`: a pure function from snapshots, a policy and the
//! current time to a keep/remove decision per snapshot, with the reasons. It deletes nothing;
//! the caller prints the plan (`--dry-run`, `--list`) and then applies it.
//!
//! # Semantics
//!
//! - Snapshots are split into groups by [`GroupBy`] (default: hostname and label). Paths are
//!   compared as a set, so the order they were given in does not matter.
//! - Within a group, snapshots are ordered newest first by `(start_ns, id)`, both descending: the
//!   id only breaks ties between equal start times, so the plan never depends on input order.
//! - A group uses the policy of its newest snapshot (`policy_for(newest)`), so a per-source
//!   policy that was changed applies to that source's whole history.
//! - `keep_last N` keeps the N newest snapshots.
//! - `keep_hourly`/`daily`/`weekly`/`monthly`/`yearly N` keep the newest snapshot of each of the
//!   N most recent periods that have a snapshot; empty periods do not count. Weeks are ISO 8601
//!   weeks, Monday to Sunday, so a week that straddles New Year is one period (as with `%G-%V`).
//! - If such a rule finds fewer than N periods, it also keeps the group's oldest snapshot, so a
//!   young repository keeps its longest history (restic ≥ 0.17 does the same; the extra keep
//!   uses up one count). The reason then reads e.g. `"monthly 3/6 (oldest)"`.
//! - `keep_within d` keeps every snapshot that started after `now - d`.
//! - Rules are independent: a snapshot counts towards every rule whose period it represents and
//!   lists every such rule, e.g. `["last 1/3", "daily 1/7", "weekly 1/4"]`. A removed snapshot
//!   has no reasons.
//! - A count of zero means the rule is not set. A policy with no rule at all keeps everything
//!   (reason `"no rules"`); [`RetentionPolicy::is_empty`] lets the caller refuse to run instead.
//! - [`GroupPlan::policy_would_remove_all`] is set when a group would lose every snapshot; the
//!   caller refuses that without `--force`.
//! - Hours, days, weeks, months and years are taken in local time: `utc_offset_secs` is added to
//!   every timestamp. The core has no time zone database, so one offset (the caller's current
//!   one) applies to the whole history; across a daylight saving change, a snapshot taken within
//!   an hour of midnight can land in the neighbouring day.
//! - Partial snapshots (some files could not be read) count like any other. They are committed
//!   snapshots, not interrupted checkpoints, which borg would leave out of its counts.
//!
//! # Deliberate differences from borg and restic
//!
//! - **Counting** follows restic. borg lets a rule skip snapshots that an earlier rule already
//!   kept and reach further back instead, so the same flags keep more with borg.
//! - **`keep_within`** is measured from now, like borg. restic measures it from the newest
//!   snapshot, which keeps old snapshots forever once backups stop.
//! - **Durations** ([`RetentionPolicy::parse_within`]) are one whole number and one unit: `h`
//!   (`H` also, as in borg), `d`, `w`, `m` = 31 days (as in borg, so "6m" never keeps less than six
//!   calendar months) and `y` = 365 days. restic's calendar sums such as `1y5m7d2h` are refused,
//!   and so is a bare number (vykar read it as days; vykar's `m` was 30 days).
//! - **No "unlimited"** count (restic's `-1`): use `u32::MAX`.
//! - **Grouping** defaults to host and label. restic's default is host and paths; vykar grouped
//!   by label only, so two hosts sharing a label shared one retention bucket.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use vger_types::{Result, SnapshotId, VgerError};

use crate::clock::{self, DAY_SECS, HOUR_SECS, NS_PER_SEC};
use crate::repo::snapshot::Snapshot;

/// Which snapshots to keep. Every rule is optional; a snapshot is kept if any rule keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub keep_last: Option<u32>,
    pub keep_hourly: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub keep_yearly: Option<u32>,
    /// Keep every snapshot newer than `now - keep_within` (nanoseconds).
    pub keep_within_ns: Option<i64>,
}

impl RetentionPolicy {
    /// True when no rule is set (counts of zero and durations ≤ 0 count as unset). Planning with
    /// an empty policy keeps everything; a prune command should refuse it and ask for a rule.
    pub fn is_empty(&self) -> bool {
        self.count_rules().is_empty() && self.within().is_none()
    }

    /// Parses a `keep_within` duration: a whole number followed by `h` or `H` (hours), `d`
    /// (days), `w` (weeks), `m` (months of 31 days) or `y` (years of 365 days), e.g. `"36h"`,
    /// `"2d"`, `"1w"`, `"6m"`, `"1y"`. Returns nanoseconds.
    pub fn parse_within(s: &str) -> Result<i64> {
        let bad = |why: &str| {
            VgerError::invalid(format!(
                "keep_within {s:?}: {why}; write a whole number followed by h (hours), d (days), \
                 w (weeks), m (months of 31 days) or y (years of 365 days), e.g. \"36h\" or \"2d\""
            ))
        };
        let text = s.trim();
        let Some(unit) = text.chars().last() else {
            return Err(bad("the duration is empty"));
        };
        let digits = &text[..text.len() - unit.len_utf8()];
        let unit_secs = match unit {
            'h' | 'H' => HOUR_SECS,
            'd' => DAY_SECS,
            'w' => 7 * DAY_SECS,
            'm' => 31 * DAY_SECS,
            'y' => 365 * DAY_SECS,
            c if c.is_ascii_digit() => return Err(bad("the unit is missing")),
            c => return Err(bad(&format!("unknown unit {c:?}"))),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("expected a whole number before the unit"));
        }
        let too_large = || bad("the duration is too large");
        let n: i64 = digits.parse().map_err(|_| too_large())?;
        if n == 0 {
            return Err(bad("the duration must be longer than zero"));
        }
        n.checked_mul(unit_secs)
            .and_then(|secs| secs.checked_mul(NS_PER_SEC))
            .ok_or_else(too_large)
    }

    /// The count rules that are set, in the order their reasons are listed.
    fn count_rules(&self) -> Vec<(Period, u32)> {
        [
            (Period::Last, self.keep_last),
            (Period::Hour, self.keep_hourly),
            (Period::Day, self.keep_daily),
            (Period::Week, self.keep_weekly),
            (Period::Month, self.keep_monthly),
            (Period::Year, self.keep_yearly),
        ]
        .into_iter()
        .filter_map(|(period, n)| n.filter(|&n| n > 0).map(|n| (period, n)))
        .collect()
    }

    fn within(&self) -> Option<i64> {
        self.keep_within_ns.filter(|&d| d > 0)
    }
}

/// Which snapshot fields split snapshots into separate retention groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    pub host: bool,
    pub label: bool,
    pub paths: bool,
}

impl Default for GroupBy {
    /// Host and label: one group per source per machine.
    fn default() -> Self {
        Self {
            host: true,
            label: true,
            paths: false,
        }
    }
}

/// What happens to one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: SnapshotId,
    pub keep: bool,
    /// Every rule that kept it, e.g. `["last 1/3", "daily 2/7"]`; for removal, empty.
    pub reasons: Vec<String>,
}

/// The decisions for one group. The key fields are `Some` exactly for the fields grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub hostname: Option<String>,
    pub label: Option<String>,
    /// Sorted and deduplicated.
    pub paths: Option<Vec<Vec<u8>>>,
    /// Newest first.
    pub decisions: Vec<Decision>,
    /// Every snapshot of the group would be removed.
    pub policy_would_remove_all: bool,
}

type GroupKey = (Option<String>, Option<String>, Option<Vec<Vec<u8>>>);

/// Plans retention for every group, ordered by (hostname, label, paths).
///
/// `policy_for` gives the policy of a snapshot (e.g. its source's); each group uses the one of
/// its newest snapshot. `utc_offset_secs` shifts timestamps into the user's local time for the
/// hour/day/week/month/year periods (the core has no time zone database; the caller passes its
/// current offset). `now_ns` is only used by `keep_within`.
pub fn plan(
    snapshots: &[Snapshot],
    policy_for: impl Fn(&Snapshot) -> RetentionPolicy,
    group_by: GroupBy,
    now_ns: i64,
    utc_offset_secs: i64,
) -> Vec<GroupPlan> {
    let mut groups: BTreeMap<GroupKey, Vec<&Snapshot>> = BTreeMap::new();
    for s in snapshots {
        groups.entry(group_key(s, group_by)).or_default().push(s);
    }
    groups
        .into_iter()
        .filter_map(|((hostname, label, paths), mut members)| {
            members.sort_by_key(|s| Reverse((s.start_ns, s.id)));
            let policy = policy_for(members.first()?);
            let decisions = decide(&members, &policy, now_ns, utc_offset_secs);
            let policy_would_remove_all = decisions.iter().all(|d| !d.keep);
            Some(GroupPlan {
                hostname,
                label,
                paths,
                decisions,
                policy_would_remove_all,
            })
        })
        .collect()
}

fn group_key(s: &Snapshot, by: GroupBy) -> GroupKey {
    let paths = by.paths.then(|| {
        let mut p = s.paths.clone();
        p.sort();
        p.dedup();
        p
    });
    (
        by.host.then(|| s.hostname.clone()),
        by.label.then(|| s.label.clone()),
        paths,
    )
}

/// Applies `policy` to one group, sorted newest first.
fn decide(
    sorted: &[&Snapshot],
    policy: &RetentionPolicy,
    now_ns: i64,
    utc_offset_secs: i64,
) -> Vec<Decision> {
    let mut reasons = vec![Vec::new(); sorted.len()];
    if policy.is_empty() {
        for r in &mut reasons {
            r.push("no rules".to_string());
        }
    }
    let local_secs: Vec<i64> = sorted
        .iter()
        .map(|s| {
            s.start_ns
                .div_euclid(NS_PER_SEC)
                .saturating_add(utc_offset_secs)
        })
        .collect();
    for (period, n) in policy.count_rules() {
        let mut last_period = None;
        let mut kept = 0u32;
        for (i, secs) in local_secs.iter().enumerate() {
            if kept == n {
                break;
            }
            let current = period.of(*secs, i);
            let oldest = i + 1 == sorted.len();
            let tag = if last_period != Some(current) {
                ""
            } else if oldest {
                " (oldest)"
            } else {
                continue;
            };
            last_period = Some(current);
            kept += 1;
            if let Some(r) = reasons.get_mut(i) {
                r.push(format!("{} {kept}/{n}{tag}", period.name()));
            }
        }
    }
    if let Some(within) = policy.within() {
        let cutoff = now_ns.saturating_sub(within);
        for (s, r) in sorted.iter().zip(&mut reasons) {
            if s.start_ns > cutoff {
                r.push(format!("within {}", fmt_duration(within)));
            }
        }
    }
    sorted
        .iter()
        .zip(reasons)
        .map(|(s, reasons)| Decision {
            id: s.id,
            keep: !reasons.is_empty(),
            reasons,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    /// Every snapshot is its own period.
    Last,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    fn name(self) -> &'static str {
        match self {
            Period::Last => "last",
            Period::Hour => "hourly",
            Period::Day => "daily",
            Period::Week => "weekly",
            Period::Month => "monthly",
            Period::Year => "yearly",
        }
    }

    /// A number naming the period that contains `local_secs` (seconds since the epoch, shifted
    /// to local time); `index` is the snapshot's position, for `Last`.
    fn of(self, local_secs: i64, index: usize) -> i64 {
        let days = local_secs.div_euclid(DAY_SECS);
        match self {
            Period::Last => i64::try_from(index).unwrap_or(i64::MAX),
            Period::Hour => local_secs.div_euclid(HOUR_SECS),
            Period::Day => days,
            Period::Week => clock::iso_week_monday(days),
            Period::Month => {
                let (y, m, _) = clock::civil_from_days(days);
                y * 12 + m
            }
            Period::Year => clock::civil_from_days(days).0,
        }
    }
}

/// `"2d"`, `"36h"`, `"90s"`: the largest whole unit, for reasons.
fn fmt_duration(ns: i64) -> String {
    let secs = ns / NS_PER_SEC;
    if ns % NS_PER_SEC != 0 {
        format!("{ns}ns")
    } else if secs % DAY_SECS == 0 {
        format!("{}d", secs / DAY_SECS)
    } else if secs % HOUR_SECS == 0 {
        format!("{}h", secs / HOUR_SECS)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_whole_units() {
        assert_eq!(fmt_duration(2 * DAY_SECS * NS_PER_SEC), "2d");
        assert_eq!(fmt_duration(36 * HOUR_SECS * NS_PER_SEC), "36h");
        assert_eq!(fmt_duration(90 * NS_PER_SEC), "90s");
        assert_eq!(fmt_duration(5), "5ns");
    }
}
