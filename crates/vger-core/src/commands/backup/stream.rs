//! Streams stored as files in the snapshot: the standard output of a command (a database dump)
//! or this process's standard input. The bytes go from the pipe through the chunker into packs
//! as any file's do: no temporary file, memory bounded by the chunker's window and the upload
//! queue. A command that cannot start, exits with a non-zero status or is killed fails the
//! backup before a snapshot exists, so no snapshot claims a half-written dump is good.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vger_types::{Result, VgerError};

use super::walk::{ChunkRef, Walker};
use crate::cancel::CancelToken;
use crate::chunker::StreamError;
use crate::clock;
use crate::platform::{meta, process};
use crate::tree::{Content, Entry, Kind};

/// Where a stream's bytes come from.
#[derive(Debug, Clone)]
pub enum StreamFrom {
    /// This process's standard input (file descriptor 0), read to its end.
    Stdin,
    /// A command started without a shell (give `["sh", "-c", text]` for one); its standard output
    /// is stored. `env`: its whole environment (the caller leaves secrets out); `None` inherits.
    Command {
        argv: Vec<String>,
        env: Option<Vec<(String, String)>>,
        cwd: Option<PathBuf>,
    },
}

/// One stream and where it goes in the snapshot: `path` is relative to the root, `/`-separated
/// (`vger-dumps/db.sql`); directories on the way are created.
#[derive(Debug, Clone)]
pub struct StreamSource {
    pub path: Vec<u8>,
    pub from: StreamFrom,
}

/// A file made of a stream can be read by its owner only, as a dump usually holds everything.
const FILE_MODE: u32 = 0o100600;
const DIR_MODE: u32 = 0o040700;
/// How much of a failing command's standard error the message quotes (its end).
const STDERR_TAIL: usize = 4096;
/// After a cancelled command was asked to stop, how long before it is killed.
const KILL_AFTER: Duration = Duration::from_secs(5);

/// Checks the paths before anything runs: relative, no empty, `.` or `..` component.
pub fn validate(streams: &[StreamSource]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for s in streams {
        let shown = String::from_utf8_lossy(&s.path);
        let bad = s.path.is_empty()
            || s.path.starts_with(b"/")
            || s.path
                .split(|b| *b == b'/')
                .any(|c| c.is_empty() || c == b"." || c == b".." || c.contains(&0));
        if bad {
            return Err(VgerError::invalid(format!(
                "{shown:?} cannot name a stream in the snapshot: give a relative path without empty, \".\" or \"..\" parts"
            )));
        }
        if !seen.insert(&s.path) {
            return Err(VgerError::invalid(format!(
                "two streams are stored as {shown:?}; give each its own name"
            )));
        }
        if let StreamFrom::Command { argv, .. } = &s.from
            && argv.first().is_none_or(|a| a.is_empty())
        {
            return Err(VgerError::invalid(format!(
                "the command for {shown:?} is empty"
            )));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Node {
    children: BTreeMap<Vec<u8>, Node>,
    file: Option<Vec<ChunkRef>>,
    size: u64,
}

/// Runs every stream into the walker and adds the files (and the directories above them) to
/// `root`, the root tree's entries. A name the sources already use at the root is an error.
pub fn add_streams(
    w: &mut Walker<'_>,
    root: &mut Vec<Entry>,
    streams: &[StreamSource],
    cancel: &CancelToken,
) -> Result<()> {
    let mut top = Node::default();
    for s in streams {
        let parts: Vec<&[u8]> = s.path.split(|b| *b == b'/').collect();
        if root.iter().any(|e| e.name == parts[0]) {
            return Err(VgerError::invalid(format!(
                "{:?} is both a source entry and where a stream goes; rename the stream",
                String::from_utf8_lossy(parts[0])
            )));
        }
        let chunks = match &s.from {
            StreamFrom::Stdin => read_stdin(w, cancel)?,
            StreamFrom::Command { argv, env, cwd } => {
                run_command(w, argv, env.as_deref(), cwd.as_ref(), cancel)?
            }
        };
        let mut node = &mut top;
        for part in parts {
            node = node.children.entry(part.to_vec()).or_default();
        }
        node.size = chunks.iter().map(|c| u64::from(c.1)).sum();
        node.file = Some(chunks);
    }
    let owner = Owner::current();
    let now = clock::now_ns();
    for (name, node) in top.children {
        root.push(emit(w, name, node, &owner, now)?);
    }
    Ok(())
}

fn emit(w: &mut Walker<'_>, name: Vec<u8>, node: Node, owner: &Owner, now: i64) -> Result<Entry> {
    let mut e = Entry {
        name,
        kind: Kind::File,
        mode: FILE_MODE,
        uid: owner.uid,
        gid: owner.gid,
        user: owner.user.clone(),
        group: owner.group.clone(),
        mtime_ns: now,
        ctime_ns: now,
        size: node.size,
        xattrs: Vec::new(),
        content: Content::None,
        holes: Vec::new(),
    };
    if let Some(chunks) = node.file {
        e.content = Content::Chunks(chunks);
        return Ok(e);
    }
    let mut entries = Vec::with_capacity(node.children.len());
    for (child, sub) in node.children {
        entries.push(emit(w, child, sub, owner, now)?);
    }
    e.kind = Kind::Dir;
    e.mode = DIR_MODE;
    e.size = 0;
    e.content = Content::Subtree(w.store_tree(entries)?);
    Ok(e)
}

struct Owner {
    uid: u32,
    gid: u32,
    user: String,
    group: String,
}

impl Owner {
    fn current() -> Self {
        let (uid, gid) = process::ids();
        Owner {
            uid,
            gid,
            user: meta::user_name(uid),
            group: meta::group_name(gid),
        }
    }
}

/// Standard input, read until its end. A descriptor left non-blocking by the embedding process
/// is waited on rather than taken for an end.
fn read_stdin(w: &mut Walker<'_>, cancel: &CancelToken) -> Result<Vec<ChunkRef>> {
    // A duplicate of descriptor 0, unbuffered (the process's own stays open).
    let file = process::stdin_file()
        .map_err(|e| VgerError::DumpFailed(format!("standard input could not be read: {e}")))?;
    let reader = Patient {
        file: &file,
        cancel,
    };
    match w.chunk_stream(reader) {
        Ok(chunks) => Ok(chunks),
        Err(StreamError::Sink(e)) => Err(e),
        Err(StreamError::Read(_)) if cancel.is_cancelled() => Err(VgerError::Cancelled),
        Err(StreamError::Read(e)) => Err(VgerError::DumpFailed(format!(
            "standard input could not be read: {e}"
        ))),
    }
}

struct Patient<'f> {
    file: &'f File,
    cancel: &'f CancelToken,
}

impl Read for Patient<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if self.cancel.is_cancelled() {
                        return Err(std::io::Error::other("cancelled"));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

/// Runs `argv` in its own process group and stores its standard output. Cancelling stops the
/// group (SIGTERM, then SIGKILL after [`KILL_AFTER`]; on Windows the process tree at once: see
/// [`process`]).
fn run_command(
    w: &mut Walker<'_>,
    argv: &[String],
    env: Option<&[(String, String)]>,
    cwd: Option<&PathBuf>,
    cancel: &CancelToken,
) -> Result<Vec<ChunkRef>> {
    let shown = shown(argv);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    process::own_group(&mut cmd);
    if let Some(env) = env {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| VgerError::DumpFailed(format!("{shown} could not be started: {e}")))?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = tail_of(child.stderr.take().expect("piped"));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = watch(child.id(), cancel.clone(), Arc::clone(&done));
    let read = w.chunk_stream(stdout);
    if read.is_err() {
        // The command may be blocked writing to a pipe nobody reads any more.
        process::stop(child.id(), true);
    }
    let status = wait(&mut child);
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let said = stderr.join().unwrap_or_default();
    if cancel.is_cancelled() {
        return Err(VgerError::Cancelled);
    }
    let chunks = match read {
        Ok(chunks) => chunks,
        Err(StreamError::Sink(e)) => return Err(e),
        Err(StreamError::Read(e)) => {
            return Err(VgerError::DumpFailed(format!(
                "the output of {shown} could not be read: {e}"
            )));
        }
    };
    match status {
        Ok(s) if s.success() => Ok(chunks),
        Ok(s) => Err(VgerError::DumpFailed(format!(
            "{shown} {}{}",
            describe(s),
            last_line(&said)
        ))),
        Err(e) => Err(VgerError::DumpFailed(format!(
            "{shown} could not be waited for: {e}"
        ))),
    }
}

fn wait(child: &mut Child) -> std::io::Result<ExitStatus> {
    loop {
        match child.wait() {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Stops the command's process group once `cancel` is set, until `done`.
fn watch(pid: u32, cancel: CancelToken, done: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut asked: Option<Instant> = None;
        while !done.load(Ordering::Relaxed) {
            if cancel.is_cancelled() {
                match asked {
                    None => {
                        process::stop(pid, false);
                        asked = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() > KILL_AFTER => {
                        process::stop(pid, true);
                    }
                    Some(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

/// Collects the end of what the command writes to standard error.
fn tail_of(mut stderr: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > 2 * STDERR_TAIL {
                kept.drain(..kept.len() - STDERR_TAIL);
            }
        }
        kept
    })
}

fn describe(s: ExitStatus) -> String {
    match (s.code(), process::signal(&s)) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".to_string(),
    }
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    match text.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => format!(" (it said: {})", line.trim()),
        None => String::new(),
    }
}

/// The command as a user would type it, shortened.
fn shown(argv: &[String]) -> String {
    let mut s = match argv {
        [sh, c, text] if sh == "sh" && c == "-c" => text.clone(),
        _ => argv.join(" "),
    };
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect::<String>() + "…";
    }
    format!("the command `{s}`")
}
