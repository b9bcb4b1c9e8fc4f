//! Whether the process that wrote a lock still exists, so that the lock of a process killed on
//! this host is removed at once instead of stalling every other client until its lease expires.
//!
//! A lock records its writer's hostname and pid, plus what makes that pid unambiguous on Linux:
//! the boot id (`/proc/sys/kernel/random/boot_id`, new at every boot), the pid namespace
//! (`/proc/self/ns/pid`: containers sharing one kernel and hostname have their own pids) and the
//! process start time (field 22 of `/proc/PID/stat`, clock ticks since boot), so that a pid reused
//! by a newer process is not mistaken for the holder.
//!
//! A process is judged only when all of these match this process's own host: same hostname, same
//! boot id, same pid namespace. Anything else (another host, another container, a lock of an older
//! vger without these fields, a platform without `/proc`) is [`ProcessState::Unknown`], and such a
//! lock expires by its lease as before. Dead means certain: the pid does not exist (`kill(pid, 0)`
//! says ESRCH, which works even where `/proc` hides other users' processes), or it is a zombie,
//! or it now belongs to a process that started at another time.

/// What identifies a process beyond its pid; empty strings and 0 mean unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessStamp {
    pub boot_id: String,
    pub pid_namespace: String,
    /// Start time in clock ticks after boot (field 22 of `/proc/PID/stat`).
    pub start_time: u64,
}

/// What is known of a lock holder's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// It runs on this host (same boot, same pid namespace) and is the process that wrote the lock.
    Alive,
    /// It ran on this host and is gone (or its pid now belongs to another process).
    Dead,
    /// Another host, container or boot, or a lock without the fields needed to tell.
    Unknown,
}

impl ProcessState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Alive => "alive",
            ProcessState::Dead => "dead",
            ProcessState::Unknown => "unknown",
        }
    }
}

/// This machine's hostname (empty if it cannot be read).
pub fn this_host() -> String {
    crate::platform::process::hostname()
}

/// The stamp of the current process.
pub fn this_process() -> ProcessStamp {
    imp::this_process()
}

/// The state of the process `pid` that wrote a lock on `hostname` with `stamp`, judged from here.
pub fn state(hostname: &str, pid: u32, stamp: &ProcessStamp) -> ProcessState {
    let here = this_process();
    let same_host = !hostname.is_empty()
        && hostname == this_host()
        && !stamp.boot_id.is_empty()
        && stamp.boot_id == here.boot_id
        && !stamp.pid_namespace.is_empty()
        && stamp.pid_namespace == here.pid_namespace;
    // Pid 0 and values beyond i32 would mean a process group or nothing to kill(2): never judged.
    if !same_host || pid == 0 || i32::try_from(pid).is_err() {
        return ProcessState::Unknown;
    }
    imp::state_on_this_host(pid, stamp.start_time)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io::ErrorKind;

    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    use super::{ProcessStamp, ProcessState};

    pub fn this_process() -> ProcessStamp {
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|p| p.into_os_string().into_string().ok())
            .unwrap_or_default();
        let start_time = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| parse_stat(&s))
            .map_or(0, |(_, start)| start);
        ProcessStamp {
            boot_id,
            pid_namespace,
            start_time,
        }
    }

    /// State letter (field 3) and start time (field 22) of a `/proc/PID/stat` line. The command
    /// name (field 2) is in parentheses and may itself hold spaces and parentheses, so the fields
    /// are counted from the last `)`.
    pub(super) fn parse_stat(line: &str) -> Option<(char, u64)> {
        let rest = &line[line.rfind(')')? + 1..];
        let mut fields = rest.split_ascii_whitespace();
        let state = fields.next()?.chars().next()?;
        // Field 3 was the state; field 22 is 19 further on.
        let start = fields.nth(18)?.parse().ok()?;
        Some((state, start))
    }

    pub fn state_on_this_host(pid: u32, start_time: u64) -> ProcessState {
        let Ok(raw) = i32::try_from(pid) else {
            return ProcessState::Unknown;
        };
        match kill(Pid::from_raw(raw), None) {
            Err(Errno::ESRCH) => return ProcessState::Dead,
            // EPERM: it exists and belongs to another user.
            Ok(()) | Err(Errno::EPERM) => {}
            Err(_) => return ProcessState::Unknown,
        }
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(line) => match parse_stat(&line) {
                // A zombie has exited; only its parent has not collected it yet.
                Some(('Z' | 'X' | 'x', _)) => ProcessState::Dead,
                Some((_, start)) if start_time != 0 && start != start_time => ProcessState::Dead,
                Some(_) if start_time != 0 => ProcessState::Alive,
                _ => ProcessState::Unknown,
            },
            // Gone between the two looks.
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    && kill(Pid::from_raw(raw), None) == Err(Errno::ESRCH) =>
            {
                ProcessState::Dead
            }
            // Hidden by /proc (hidepid) while kill(2) says it exists: its start time is unknown.
            Err(_) => ProcessState::Unknown,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::{ProcessStamp, ProcessState};

    pub fn this_process() -> ProcessStamp {
        ProcessStamp::default()
    }

    pub fn state_on_this_host(_pid: u32, _start_time: u64) -> ProcessState {
        ProcessState::Unknown
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_awkward_command_names_parse() {
        let line = "4242 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21";
        assert_eq!(imp::parse_stat(line), Some(('S', 987_654)));
        assert_eq!(imp::parse_stat("1 (x) Z"), None, "too short");
    }

    #[test]
    fn this_process_is_alive_and_fully_stamped() {
        let me = this_process();
        assert!(!me.boot_id.is_empty() && !me.pid_namespace.is_empty() && me.start_time > 0);
        let pid = std::process::id();
        assert_eq!(state(&this_host(), pid, &me), ProcessState::Alive);
        let reused = ProcessStamp {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert_eq!(
            state(&this_host(), pid, &reused),
            ProcessState::Dead,
            "a pid that now belongs to a process started at another time"
        );
    }

    #[test]
    fn a_finished_process_is_dead_and_other_hosts_are_unknown() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let me = this_process();
        assert_eq!(state(&this_host(), pid, &me), ProcessState::Dead);
        assert_eq!(state("elsewhere", pid, &me), ProcessState::Unknown);
        let other_boot = ProcessStamp {
            boot_id: "another boot".into(),
            ..me.clone()
        };
        assert_eq!(state(&this_host(), pid, &other_boot), ProcessState::Unknown);
        let other_ns = ProcessStamp {
            pid_namespace: "pid:[1]".into(),
            ..me.clone()
        };
        assert_eq!(state(&this_host(), pid, &other_ns), ProcessState::Unknown);
        assert_eq!(
            state(&this_host(), pid, &ProcessStamp::default()),
            ProcessState::Unknown,
            "a lock of an older vger"
        );
        assert_eq!(state(&this_host(), 0, &me), ProcessState::Unknown);
    }

    #[test]
    fn a_killed_process_not_yet_collected_is_dead() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let stamp = ProcessStamp {
            start_time: imp::parse_stat(&start).unwrap().1,
            ..this_process()
        };
        assert_eq!(state(&this_host(), pid, &stamp), ProcessState::Alive);
        child.kill().unwrap();
        // A zombie until waited for: kill(pid, 0) still succeeds, the state letter says Z.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while state(&this_host(), pid, &stamp) != ProcessState::Dead {
            assert!(std::time::Instant::now() < deadline, "still alive");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.wait().unwrap();
        assert_eq!(state(&this_host(), pid, &stamp), ProcessState::Dead);
    }
}
