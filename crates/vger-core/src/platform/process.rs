//! This process and the commands it runs.
//!
//! On Unix a command whose output is stored (`--stdin-from-command`) runs in its own process
//! group, which cancelling stops as a whole (SIGTERM, then SIGKILL). Windows has no process
//! groups to signal: the command is a plain child, and cancelling ends it and the processes it
//! started at once (`taskkill /T /F`).

use std::fs::File;
use std::process::{Command, ExitStatus};

/// This machine's hostname (empty if it cannot be read).
pub fn hostname() -> String {
    #[cfg(unix)]
    {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    }
    #[cfg(not(unix))]
    {
        // What Windows calls the computer; not configuration.
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

/// The real user and group of this process (0 on Windows, which stores no owner).
pub fn ids() -> (u32, u32) {
    #[cfg(unix)]
    {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    }
    #[cfg(not(unix))]
    {
        (0, 0)
    }
}

/// A handle of this process's standard input of its own (the process's stays open).
pub fn stdin_file() -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsHandle;
        std::io::stdin()
            .as_handle()
            .try_clone_to_owned()
            .map(File::from)
    }
}

/// Makes the command started by `cmd` the leader of a process group of its own (Unix).
pub fn own_group(cmd: &mut Command) -> &mut Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
    }
    #[cfg(not(unix))]
    {
        cmd
    }
}

/// Asks the command `pid` started with [`own_group`] (and what it started) to stop: SIGTERM to
/// its group, or with `force` SIGKILL; on Windows both end the process tree at once.
pub fn stop(pid: u32, force: bool) {
    #[cfg(unix)]
    {
        use nix::sys::signal::{Signal, killpg};
        let signal = if force {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        if let Ok(pid) = i32::try_from(pid) {
            let _ = killpg(nix::unistd::Pid::from_raw(pid), signal);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = force;
        let _ = Command::new("taskkill")
            .args(["/PID", &pid.to_string(), "/T", "/F"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The signal that killed a command (Unix; `None` on Windows, where a process only exits).
pub fn signal(s: &ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        s.signal()
    }
    #[cfg(not(unix))]
    {
        let _ = s;
        None
    }
}
