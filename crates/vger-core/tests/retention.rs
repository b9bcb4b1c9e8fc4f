//! The retention planner on synthetic timelines. Every test asserts the exact set of kept
//! snapshots (and, where it matters, the reasons). Snapshot ids are `[n; 32]`; helpers report
//! kept snapshots by that `n`, newest first.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

use vger_core::retention::plan;
use vger_core::{ErrorCode, GroupBy, GroupPlan, RetentionPolicy, Snapshot, SnapshotStats};
use vger_types::{ChunkId, SnapshotId};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// Nanoseconds since the epoch of a UTC civil time (Hinnant's days-from-civil, written
/// independently of the module's civil-from-days).
fn at(y: i64, m: i64, d: i64, h: i64, min: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + h * HOUR + min * MIN
}

fn snap(n: u8, host: &str, label: &str, start_ns: i64) -> Snapshot {
    Snapshot {
        format_version: 1,
        id: SnapshotId([n; 32]),
        start_ns,
        end_ns: start_ns + SEC,
        hostname: host.into(),
        username: "user".into(),
        label: label.into(),
        paths: vec![b"/home".to_vec()],
        tree: ChunkId([0; 32]),
        stats: SnapshotStats::default(),
        partial: false,
        meta: Default::default(),
    }
}

/// A one-host, one-label timeline: snapshot `i + 1` starts at `times[i]`.
fn timeline(times: &[i64]) -> Vec<Snapshot> {
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| snap(i as u8 + 1, "h", "l", t))
        .collect()
}

fn now() -> i64 {
    at(2024, 6, 15, 12, 0)
}

/// Plans a timeline that must form a single group, with UTC buckets.
fn one_group(snaps: &[Snapshot], policy: RetentionPolicy) -> GroupPlan {
    one_group_at(snaps, policy, 0)
}

fn one_group_at(snaps: &[Snapshot], policy: RetentionPolicy, offset: i64) -> GroupPlan {
    let mut groups = plan(snaps, |_| policy.clone(), GroupBy::default(), now(), offset);
    assert_eq!(groups.len(), 1);
    groups.remove(0)
}

fn n(id: &SnapshotId) -> u8 {
    id.0[0]
}

fn kept(g: &GroupPlan) -> Vec<u8> {
    g.decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| n(&d.id))
        .collect()
}

fn order(g: &GroupPlan) -> Vec<u8> {
    g.decisions.iter().map(|d| n(&d.id)).collect()
}

fn reasons(g: &GroupPlan, id: u8) -> Vec<&str> {
    let d = g.decisions.iter().find(|d| n(&d.id) == id);
    d.map(|d| d.reasons.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

fn policy(f: impl FnOnce(&mut RetentionPolicy)) -> RetentionPolicy {
    let mut p = RetentionPolicy::default();
    f(&mut p);
    p
}

#[test]
fn keep_last_keeps_the_newest_n() {
    let snaps = timeline(&[
        at(2024, 6, 1, 12, 0),
        at(2024, 6, 1, 13, 0),
        at(2024, 6, 2, 12, 0),
        at(2024, 6, 3, 12, 0),
        at(2024, 6, 4, 12, 0),
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_last = Some(3)));
    assert_eq!(order(&g), [5, 4, 3, 2, 1]);
    assert_eq!(kept(&g), [5, 4, 3]);
    assert_eq!(reasons(&g, 5), ["last 1/3"]);
    assert_eq!(reasons(&g, 3), ["last 3/3"]);
    assert!(reasons(&g, 2).is_empty());
    assert!(!g.policy_would_remove_all);

    // More than there are: everything, and no "(oldest)" extra.
    let g = one_group(&snaps, policy(|p| p.keep_last = Some(10)));
    assert_eq!(kept(&g), [5, 4, 3, 2, 1]);
    assert_eq!(reasons(&g, 1), ["last 5/10"]);
}

#[test]
fn keep_hourly_keeps_the_newest_of_each_hour() {
    let snaps = timeline(&[
        at(2024, 6, 1, 10, 5),
        at(2024, 6, 1, 10, 40),
        at(2024, 6, 1, 11, 10),
        at(2024, 6, 1, 13, 0),
        at(2024, 6, 1, 13, 30),
    ]);
    // Hour 12 has no snapshot and does not count.
    let g = one_group(&snaps, policy(|p| p.keep_hourly = Some(2)));
    assert_eq!(kept(&g), [5, 3]);
    assert_eq!(reasons(&g, 5), ["hourly 1/2"]);
    assert_eq!(reasons(&g, 3), ["hourly 2/2"]);

    // Not enough hours: the oldest snapshot is kept as well.
    let g = one_group(&snaps, policy(|p| p.keep_hourly = Some(10)));
    assert_eq!(kept(&g), [5, 3, 2, 1]);
    assert_eq!(reasons(&g, 2), ["hourly 3/10"]);
    assert_eq!(reasons(&g, 1), ["hourly 4/10 (oldest)"]);
}

#[test]
fn keep_daily_skips_empty_days() {
    let snaps = timeline(&[
        at(2024, 1, 1, 8, 0),
        at(2024, 1, 1, 20, 0),
        at(2024, 1, 3, 9, 0),
        at(2024, 1, 5, 7, 0),
        at(2024, 1, 5, 22, 0),
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_daily = Some(3)));
    assert_eq!(kept(&g), [5, 3, 2]);
    assert_eq!(reasons(&g, 2), ["daily 3/3"]);

    let g = one_group(&snaps, policy(|p| p.keep_daily = Some(5)));
    assert_eq!(kept(&g), [5, 3, 2, 1]);
    assert_eq!(reasons(&g, 1), ["daily 4/5 (oldest)"]);

    let g = one_group(&snaps, policy(|p| p.keep_daily = Some(1)));
    assert_eq!(kept(&g), [5]);
}

#[test]
fn keep_weekly_uses_iso_weeks_across_new_year() {
    // ISO 2020-W53 runs from Monday 2020-12-28 to Sunday 2021-01-03.
    let snaps = timeline(&[
        at(2020, 12, 27, 12, 0), // Sunday, 2020-W52
        at(2020, 12, 28, 12, 0), // Monday, 2020-W53
        at(2020, 12, 31, 12, 0), // Thursday, 2020-W53
        at(2021, 1, 1, 12, 0),   // Friday, 2020-W53
        at(2021, 1, 3, 12, 0),   // Sunday, 2020-W53
        at(2021, 1, 4, 12, 0),   // Monday, 2021-W01
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_weekly = Some(3)));
    assert_eq!(kept(&g), [6, 5, 1]);
    assert_eq!(reasons(&g, 6), ["weekly 1/3"]);
    assert_eq!(reasons(&g, 5), ["weekly 2/3"]);
    assert_eq!(reasons(&g, 1), ["weekly 3/3"]);
}

#[test]
fn keep_monthly_keeps_the_newest_of_each_month() {
    let snaps = timeline(&[
        at(2024, 1, 15, 12, 0),
        at(2024, 1, 31, 23, 0),
        at(2024, 2, 1, 0, 30),
        at(2024, 2, 29, 12, 0),
        at(2024, 3, 15, 12, 0),
        at(2024, 3, 20, 12, 0),
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_monthly = Some(2)));
    assert_eq!(kept(&g), [6, 4]);

    let g = one_group(&snaps, policy(|p| p.keep_monthly = Some(3)));
    assert_eq!(kept(&g), [6, 4, 2]);
    assert_eq!(reasons(&g, 2), ["monthly 3/3"]);

    let g = one_group(&snaps, policy(|p| p.keep_monthly = Some(6)));
    assert_eq!(kept(&g), [6, 4, 2, 1]);
    assert_eq!(reasons(&g, 1), ["monthly 4/6 (oldest)"]);
}

#[test]
fn keep_yearly_keeps_the_newest_of_each_year() {
    let snaps = timeline(&[
        at(2022, 6, 1, 12, 0),
        at(2022, 12, 31, 23, 59),
        at(2023, 1, 1, 0, 0),
        at(2023, 7, 1, 12, 0),
        at(2024, 3, 1, 12, 0),
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_yearly = Some(2)));
    assert_eq!(kept(&g), [5, 4]);

    let g = one_group(&snaps, policy(|p| p.keep_yearly = Some(3)));
    assert_eq!(kept(&g), [5, 4, 2]);
    assert_eq!(reasons(&g, 2), ["yearly 3/3"]);
}

#[test]
fn keep_within_is_measured_from_now() {
    let snaps = timeline(&[
        now() - 3 * DAY,
        now() - 2 * DAY,       // exactly on the cutoff: not newer, removed
        now() - 2 * DAY + SEC, // just inside
        now() - HOUR,
        now() + HOUR, // clock skew: a snapshot from the future is kept
    ]);
    let g = one_group(&snaps, policy(|p| p.keep_within_ns = Some(2 * DAY)));
    assert_eq!(kept(&g), [5, 4, 3]);
    assert_eq!(reasons(&g, 3), ["within 2d"]);

    let g = one_group(&snaps, policy(|p| p.keep_within_ns = Some(36 * HOUR)));
    assert_eq!(kept(&g), [5, 4]);
    assert_eq!(reasons(&g, 4), ["within 36h"]);
}

#[test]
fn combined_rules_list_every_reason() {
    // One snapshot a day at noon, Monday 2024-06-03 to Friday 2024-06-14, minus the weekend.
    let days = [3, 4, 5, 6, 7, 10, 11, 12, 13, 14];
    let times: Vec<i64> = days.iter().map(|&d| at(2024, 6, d, 12, 0)).collect();
    let snaps = timeline(&times);
    let p = policy(|p| {
        p.keep_last = Some(2);
        p.keep_daily = Some(3);
        p.keep_weekly = Some(2);
        p.keep_monthly = Some(1);
        p.keep_within_ns = Some(2 * DAY + HOUR);
    });
    let g = one_group(&snaps, p);
    // 10 = June 14, 9 = June 13, 8 = June 12, 5 = Friday June 7.
    assert_eq!(kept(&g), [10, 9, 8, 5]);
    assert_eq!(
        reasons(&g, 10),
        [
            "last 1/2",
            "daily 1/3",
            "weekly 1/2",
            "monthly 1/1",
            "within 49h"
        ]
    );
    assert_eq!(reasons(&g, 9), ["last 2/2", "daily 2/3", "within 49h"]);
    assert_eq!(reasons(&g, 8), ["daily 3/3"]);
    assert_eq!(reasons(&g, 5), ["weekly 2/2"]);
    assert!(reasons(&g, 1).is_empty());
}

#[test]
fn groups_by_host_and_label_by_default() {
    let t = |d| at(2024, 6, d, 12, 0);
    let snaps = vec![
        snap(1, "b", "docs", t(1)),
        snap(2, "a", "docs", t(2)),
        snap(3, "a", "mail", t(3)),
        snap(4, "a", "docs", t(4)),
        snap(5, "b", "docs", t(5)),
        snap(6, "a", "mail", t(6)),
    ];
    let keep1 = policy(|p| p.keep_last = Some(1));
    let groups = plan(&snaps, |_| keep1.clone(), GroupBy::default(), now(), 0);
    let keys: Vec<(Option<&str>, Option<&str>)> = groups
        .iter()
        .map(|g| (g.hostname.as_deref(), g.label.as_deref()))
        .collect();
    assert_eq!(
        keys,
        [
            (Some("a"), Some("docs")),
            (Some("a"), Some("mail")),
            (Some("b"), Some("docs")),
        ]
    );
    assert!(groups.iter().all(|g| g.paths.is_none()));
    let orders: Vec<Vec<u8>> = groups.iter().map(order).collect();
    assert_eq!(orders, [vec![4, 2], vec![6, 3], vec![5, 1]]);
    let kept_sets: Vec<Vec<u8>> = groups.iter().map(kept).collect();
    assert_eq!(kept_sets, [vec![4], vec![6], vec![5]]);

    // Host only: a's labels share one group.
    let by_host = GroupBy {
        host: true,
        label: false,
        paths: false,
    };
    let groups = plan(&snaps, |_| keep1.clone(), by_host, now(), 0);
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (groups[0].hostname.as_deref(), groups[0].label.as_deref()),
        (Some("a"), None)
    );
    assert_eq!(kept(&groups[0]), [6]);
    assert_eq!(order(&groups[0]), [6, 4, 3, 2]);
    assert_eq!(kept(&groups[1]), [5]);

    // Label only: both hosts' "docs" share one group (what vykar did).
    let by_label = GroupBy {
        host: false,
        label: true,
        paths: false,
    };
    let groups = plan(&snaps, |_| keep1.clone(), by_label, now(), 0);
    let kept_sets: Vec<Vec<u8>> = groups.iter().map(kept).collect();
    assert_eq!(kept_sets, [vec![5], vec![6]]);
    assert_eq!(groups[0].label.as_deref(), Some("docs"));
    assert_eq!(groups[0].hostname, None);

    // Nothing: one group of everything.
    let nothing = GroupBy {
        host: false,
        label: false,
        paths: false,
    };
    let groups = plan(&snaps, |_| keep1.clone(), nothing, now(), 0);
    assert_eq!(groups.len(), 1);
    assert_eq!(kept(&groups[0]), [6]);
    assert_eq!(order(&groups[0]), [6, 5, 4, 3, 2, 1]);
}

#[test]
fn groups_by_paths_as_a_set() {
    let with_paths = |n, d, paths: &[&str]| {
        let mut s = snap(n, "h", "l", at(2024, 6, d, 12, 0));
        s.paths = paths.iter().map(|p| p.as_bytes().to_vec()).collect();
        s
    };
    let snaps = vec![
        with_paths(1, 1, &["/etc", "/home"]),
        with_paths(2, 2, &["/home", "/etc"]),
        with_paths(3, 3, &["/home"]),
        with_paths(4, 4, &["/etc", "/home", "/etc"]),
    ];
    let by_paths = GroupBy {
        host: false,
        label: false,
        paths: true,
    };
    let keep1 = policy(|p| p.keep_last = Some(1));
    let groups = plan(&snaps, |_| keep1.clone(), by_paths, now(), 0);
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].paths,
        Some(vec![b"/etc".to_vec(), b"/home".to_vec()])
    );
    assert_eq!(order(&groups[0]), [4, 2, 1]);
    assert_eq!(kept(&groups[0]), [4]);
    assert_eq!(groups[1].paths, Some(vec![b"/home".to_vec()]));
    assert_eq!(kept(&groups[1]), [3]);
}

#[test]
fn a_group_uses_the_policy_of_its_newest_snapshot() {
    let t = |d| at(2024, 6, d, 12, 0);
    let snaps = vec![
        snap(1, "h", "docs", t(1)),
        snap(2, "h", "docs", t(2)),
        snap(3, "h", "docs", t(3)),
        snap(4, "h", "mail", t(4)),
        snap(5, "h", "mail", t(5)),
    ];
    let per_source = |s: &Snapshot| {
        let n = if s.label == "docs" { 2 } else { 1 };
        policy(|p| p.keep_last = Some(n))
    };
    let groups = plan(&snaps, per_source, GroupBy::default(), now(), 0);
    let kept_sets: Vec<Vec<u8>> = groups.iter().map(kept).collect();
    assert_eq!(kept_sets, [vec![3, 2], vec![5]]);

    // Grouped by host only, the newest snapshot is "mail", so keep_last 1 rules them all.
    let by_host = GroupBy {
        host: true,
        label: false,
        paths: false,
    };
    let groups = plan(&snaps, per_source, by_host, now(), 0);
    assert_eq!(groups.len(), 1);
    assert_eq!(kept(&groups[0]), [5]);
}

#[test]
fn utc_offset_moves_snapshots_across_midnight() {
    let snaps = timeline(&[
        at(2024, 3, 9, 12, 0),
        at(2024, 3, 10, 22, 30),
        at(2024, 3, 10, 23, 30),
    ]);
    let daily2 = policy(|p| p.keep_daily = Some(2));
    // UTC: 1 on the 9th, 2 and 3 on the 10th.
    assert_eq!(kept(&one_group_at(&snaps, daily2.clone(), 0)), [3, 1]);
    // UTC+1: 3 moves to the 11th, so 2 is the newest of the 10th.
    assert_eq!(kept(&one_group_at(&snaps, daily2.clone(), 3_600)), [3, 2]);
    // UTC+5:30: 2 and 3 are both on the 11th.
    assert_eq!(kept(&one_group_at(&snaps, daily2.clone(), 19_800)), [3, 1]);

    // Half-hour zones shift hours too: 22:10 and 22:40 UTC are 03:40 and 04:10 at UTC+5:30.
    let hourly = timeline(&[
        at(2024, 3, 10, 20, 0),
        at(2024, 3, 10, 22, 10),
        at(2024, 3, 10, 22, 40),
    ]);
    let hourly2 = policy(|p| p.keep_hourly = Some(2));
    assert_eq!(kept(&one_group_at(&hourly, hourly2.clone(), 0)), [3, 1]);
    assert_eq!(kept(&one_group_at(&hourly, hourly2, 19_800)), [3, 2]);

    // A negative offset moves an early-morning snapshot back to the previous day.
    let snaps = timeline(&[
        at(2024, 3, 8, 12, 0),
        at(2024, 3, 9, 12, 0),
        at(2024, 3, 10, 3, 0),
    ]);
    assert_eq!(kept(&one_group_at(&snaps, daily2.clone(), 0)), [3, 2]);
    let g = one_group_at(&snaps, daily2, -5 * 3_600);
    assert_eq!(kept(&g), [3, 1]);
    assert_eq!(reasons(&g, 1), ["daily 2/2"]);
}

#[test]
fn policy_would_remove_all_flags_an_emptied_group() {
    let snaps = timeline(&[now() - 10 * DAY, now() - 9 * DAY]);
    let g = one_group(&snaps, policy(|p| p.keep_within_ns = Some(DAY)));
    assert!(kept(&g).is_empty());
    assert!(g.policy_would_remove_all);
    assert!(g.decisions.iter().all(|d| d.reasons.is_empty()));

    let g = one_group(
        &snaps,
        policy(|p| {
            p.keep_within_ns = Some(DAY);
            p.keep_last = Some(1);
        }),
    );
    assert_eq!(kept(&g), [2]);
    assert!(!g.policy_would_remove_all);
}

#[test]
fn an_empty_policy_keeps_everything() {
    assert!(RetentionPolicy::default().is_empty());
    let zeros = policy(|p| {
        p.keep_last = Some(0);
        p.keep_daily = Some(0);
        p.keep_within_ns = Some(0);
    });
    assert!(zeros.is_empty());
    assert!(!policy(|p| p.keep_yearly = Some(1)).is_empty());
    assert!(!policy(|p| p.keep_within_ns = Some(HOUR)).is_empty());

    let snaps = timeline(&[at(2020, 1, 1, 0, 0), at(2024, 1, 1, 0, 0)]);
    for p in [RetentionPolicy::default(), zeros] {
        let g = one_group(&snaps, p);
        assert_eq!(kept(&g), [2, 1]);
        assert_eq!(reasons(&g, 1), ["no rules"]);
        assert!(!g.policy_would_remove_all);
    }
}

#[test]
fn equal_start_times_are_ordered_by_id() {
    let t = at(2024, 6, 1, 12, 0);
    let snaps = vec![
        snap(2, "h", "l", t),
        snap(7, "h", "l", t),
        snap(1, "h", "l", t - SEC),
        snap(5, "h", "l", t),
    ];
    let last1 = policy(|p| p.keep_last = Some(1));
    let g = one_group(&snaps, last1.clone());
    assert_eq!(order(&g), [7, 5, 2, 1]);
    assert_eq!(kept(&g), [7]);
    let daily1 = policy(|p| p.keep_daily = Some(1));
    assert_eq!(kept(&one_group(&snaps, daily1)), [7]);

    // The input order does not matter.
    let reversed: Vec<Snapshot> = snaps.iter().rev().cloned().collect();
    assert_eq!(one_group(&reversed, last1), g);
}

#[test]
fn parse_within_accepts_whole_numbers_with_a_unit() {
    let parse = |s| RetentionPolicy::parse_within(s).ok();
    assert_eq!(parse("36h"), Some(36 * HOUR));
    assert_eq!(parse("36H"), Some(36 * HOUR));
    assert_eq!(parse("2d"), Some(2 * DAY));
    assert_eq!(parse(" 2d "), Some(2 * DAY));
    assert_eq!(parse("1w"), Some(7 * DAY));
    assert_eq!(parse("6m"), Some(6 * 31 * DAY));
    assert_eq!(parse("1y"), Some(365 * DAY));
    assert_eq!(parse("100y"), Some(36_500 * DAY));
}

#[test]
fn parse_within_rejects_bad_input_with_a_next_step() {
    for bad in [
        "",
        "   ",
        "2",
        "d",
        "2x",
        "2M",
        "-1d",
        "+1d",
        "1.5d",
        "0d",
        "1y6m",
        "2 d",
        "99999999999999999999d",
        "1000y",
    ] {
        let err = match RetentionPolicy::parse_within(bad) {
            Ok(v) => panic!("{bad:?} parsed as {v}"),
            Err(e) => e,
        };
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        assert!(msg.contains("e.g. \"36h\""), "{msg}");
    }
    let msg = |s| {
        RetentionPolicy::parse_within(s)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(msg("2").contains("the unit is missing"));
    assert!(msg("2x").contains("unknown unit 'x'"));
    assert!(msg("0d").contains("longer than zero"));
    assert!(msg("1000y").contains("too large"));
}
