//! The transfers: pipelined reads and writes in chunks, create-only stores through a temporary
//! name and a hard link, making directories, and walking the tree for listings.

use std::future::Future;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openssh_sftp_client::error::SftpErrorKind;
use openssh_sftp_client::metadata::{MetaData, Permissions};
use openssh_sftp_client::{Error as SftpError, Sftp};
use tokio::io::AsyncSeek;
use tokio::task::JoinSet;

use super::connect::random;
use crate::ObjectMeta;

/// Where interrupted writes leave their bytes (never listed as an object).
const TMP_PREFIX: &str = ".tmp.";
/// Directories this backend makes: private to their owner, like the local backend's.
const DIR_MODE: u16 = 0o700;
/// Bytes per read or write request: OpenSSH's largest (a server that takes less gets several
/// requests per chunk).
const CHUNK: u64 = 261_120;

/// What a create-only write found.
pub(super) enum Stored {
    Created,
    Exists,
}

pub(super) fn full_path(root: &str, rel: &str) -> String {
    if rel.is_empty() {
        root.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

/// `dir/.tmp.<random>` beside `key`.
fn temporary_key(key: &str) -> String {
    let name = format!("{TMP_PREFIX}{}", hex::encode(random::<8>()));
    match key.rfind('/') {
        Some(i) => format!("{}{name}", &key[..=i]),
        None => name,
    }
}

pub(super) fn is_temporary(key: &str) -> bool {
    key.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with(TMP_PREFIX))
}

/// The connection broke (or stopped answering): the server never said no.
pub(super) fn is_connection_error(e: &SftpError) -> bool {
    !matches!(
        e,
        SftpError::SftpError(..)
            | SftpError::UnsupportedExtension(_)
            | SftpError::UnsupportedSftpProtocol { .. }
            | SftpError::BufferTooLong(_)
    )
}

pub(super) fn is_no_such_file(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(SftpErrorKind::NoSuchFile, _))
}

/// The server refused a request (as opposed to the connection failing).
pub(super) fn is_refusal(e: &SftpError) -> bool {
    matches!(e, SftpError::SftpError(..))
}

/// `f`, or a timeout error (which counts as a broken connection) after `t`.
pub(super) async fn tmo<T>(
    t: Duration,
    f: impl Future<Output = std::result::Result<T, SftpError>>,
) -> std::result::Result<T, SftpError> {
    match tokio::time::timeout(t, f).await {
        Ok(r) => r,
        Err(_) => Err(SftpError::IOError(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the server did not answer within {} s", t.as_secs()),
        ))),
    }
}

/// One request (or a few) of a pipelined transfer.
type Job<T> = Pin<Box<dyn Future<Output = std::result::Result<T, SftpError>> + Send>>;

/// Runs `jobs` with at most `width` in flight; their results in order.
async fn windowed<T: Send + 'static>(
    width: usize,
    jobs: Vec<Job<T>>,
) -> std::result::Result<Vec<T>, SftpError> {
    let n = jobs.len();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut set = JoinSet::new();
    let mut jobs = jobs.into_iter().enumerate();
    loop {
        while set.len() < width.max(1) {
            let Some((i, job)) = jobs.next() else { break };
            set.spawn(async move { (i, job.await) });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (i, r) = done?;
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(r?);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

/// Reads `len` bytes (all when `None`) at `offset`: fewer at the end of the file, never padded.
/// Up to `width` requests are in flight at once.
pub(super) async fn read_file(
    s: &Arc<Sftp>,
    path: &str,
    offset: u64,
    len: Option<u64>,
    t: Duration,
    width: usize,
) -> std::result::Result<Vec<u8>, SftpError> {
    let mut file = tmo(t, s.open(path)).await?;
    let chunk = CHUNK;
    let want = match len {
        Some(l) if l <= 8 * chunk => l,
        // The whole file, or a range long enough that its end is worth knowing first.
        _ => {
            let size = tmo(t, file.metadata()).await?.len().unwrap_or(0);
            let left = size.saturating_sub(offset);
            len.map_or(left, |l| l.min(left))
        }
    };
    // Pipelined chunks, each read whole unless the file ends first (objects never change, so
    // the size as opened is the size).
    let jobs = (0..want.div_ceil(chunk))
        .map(|i| {
            let mut f = file.clone();
            let at = offset.saturating_add(i * chunk);
            let n = chunk.min(want - i * chunk);
            Box::pin(async move {
                Pin::new(&mut f).start_seek(SeekFrom::Start(at))?;
                // All `n` bytes unless the file ends first.
                let mut got: Vec<u8> = Vec::new();
                while (got.len() as u64) < n {
                    let ask = u32::try_from(n - got.len() as u64).unwrap_or(u32::MAX);
                    match tmo(t, f.read(ask, Default::default())).await? {
                        Some(b) if !b.is_empty() => got.extend_from_slice(&b),
                        _ => break,
                    }
                }
                Ok((n, got))
            }) as Job<(u64, Vec<u8>)>
        })
        .collect();
    let mut out = Vec::new();
    for (n, got) in windowed(width, jobs).await? {
        out.extend_from_slice(&got);
        if (got.len() as u64) < n {
            break;
        }
    }
    // Closes the handle in the background: nothing waits for that answer.
    drop(file);
    Ok(out)
}

/// `mkdir -p` of `rel` under `root` (which must exist), mode 0700.
pub(super) async fn make_dirs(
    s: &Arc<Sftp>,
    root: &str,
    rel: &str,
    t: Duration,
) -> std::result::Result<(), SftpError> {
    let mut fs = s.fs();
    let mut at = root.to_string();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        at = format!("{at}/{part}");
        match tmo(
            t,
            fs.dir_builder()
                .permissions(Permissions::from(DIR_MODE))
                .create(&at),
        )
        .await
        {
            // Most likely it exists (SFTP v3 has no code for that); a real problem shows at
            // the next step.
            Err(e) if is_refusal(&e) => {}
            r => r?,
        }
    }
    Ok(())
}

/// Writes `data` to a new temporary file beside `key` and links it to `key`.
pub(super) async fn store_new(
    s: &Arc<Sftp>,
    root: &str,
    key: &str,
    data: &[u8],
    t: Duration,
    width: usize,
) -> std::result::Result<Stored, SftpError> {
    let tmp = full_path(root, &temporary_key(key));
    let target = full_path(root, key);
    let open = async || {
        tmo(
            t,
            s.options().write(true).create_new(true).open(tmp.as_str()),
        )
        .await
    };
    let mut file = match open().await {
        Err(e) if is_no_such_file(&e) => {
            if let Some((dir, _)) = key.rsplit_once('/') {
                make_dirs(s, root, dir, t).await?;
            }
            open().await?
        }
        r => r?,
    };
    let mut fs = s.fs();
    let written = async {
        let chunk = CHUNK as usize;
        let jobs = data
            .chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let mut f = file.clone();
                let c = c.to_vec();
                let at = (i * chunk) as u64;
                Box::pin(async move {
                    Pin::new(&mut f).start_seek(SeekFrom::Start(at))?;
                    let mut rest = c.as_slice();
                    while !rest.is_empty() {
                        let n = tmo(t, f.write(rest)).await?;
                        rest = &rest[n..];
                    }
                    Ok(())
                }) as Job<()>
            })
            .collect();
        windowed(width, jobs).await?;
        if s.support_fsync() {
            tmo(t, file.sync_all()).await?;
        }
        tmo(t, file.close()).await
    }
    .await;
    if let Err(e) = written {
        if !is_connection_error(&e) {
            let _ = tmo(t, fs.remove_file(&tmp)).await;
        }
        return Err(e);
    }
    let exists =
        async |fs: &mut openssh_sftp_client::fs::Fs| match tmo(t, fs.metadata(&target)).await {
            Ok(_) => Ok(true),
            Err(e) if is_no_such_file(&e) => Ok(false),
            Err(e) => Err(e),
        };
    let linked = if s.support_hardlink() {
        // Fails if the key exists: of two writers of one key, exactly one wins.
        tmo(t, fs.hard_link(&tmp, &target)).await
    } else if exists(&mut fs).await? {
        let _ = tmo(t, fs.remove_file(&tmp)).await;
        return Ok(Stored::Exists);
    } else {
        tmo(t, fs.rename(&tmp, &target)).await
    };
    match linked {
        Ok(()) => {
            if s.support_hardlink() {
                // Left behind, it is only a second name of the object: the debris sweep
                // removes it.
                let _ = tmo(t, fs.remove_file(&tmp)).await;
            }
            Ok(Stored::Created)
        }
        Err(e) if is_refusal(&e) => {
            let _ = tmo(t, fs.remove_file(&tmp)).await;
            if exists(&mut fs).await? {
                Ok(Stored::Exists)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Every file (and directory) under `prefix`, reading up to `width` directories at once.
pub(super) async fn walk(
    s: &Arc<Sftp>,
    root: &str,
    prefix: &str,
    t: Duration,
    width: usize,
) -> std::result::Result<(Vec<ObjectMeta>, Vec<String>), SftpError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut pending = vec![prefix.trim_end_matches('/').to_string()];
    let mut set = JoinSet::new();
    loop {
        while set.len() < width {
            let Some(dir) = pending.pop() else { break };
            let (s, path) = (Arc::clone(s), full_path(root, &dir));
            set.spawn(async move {
                let r = read_dir(&s, &path, t).await;
                (dir, r)
            });
        }
        let Some(done) = set.join_next().await else {
            break;
        };
        let (dir, entries) = done?;
        let entries = match entries {
            Ok(e) => e,
            // Nothing written under it yet, or removed while listing.
            Err(e) if is_no_such_file(&e) => continue,
            Err(e) => return Err(e),
        };
        for (name, meta) in entries {
            if name == "." || name == ".." {
                continue;
            }
            let key = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            match meta.file_type() {
                Some(ft) if ft.is_dir() => {
                    dirs.push(key.clone());
                    pending.push(key);
                }
                Some(ft) if ft.is_file() => files.push(ObjectMeta {
                    key,
                    size: meta.len().unwrap_or(0),
                    modified: meta.modified().map(|m| m.as_system_time()),
                }),
                _ => {}
            }
        }
    }
    Ok((files, dirs))
}

/// The entries of one directory.
pub(super) async fn read_dir(
    s: &Sftp,
    path: &str,
    t: Duration,
) -> std::result::Result<Vec<(String, MetaData)>, SftpError> {
    use futures_core::Stream;
    let mut fs = s.fs();
    let dir = tmo(t, fs.open_dir(path)).await?;
    let mut entries = std::pin::pin!(dir.read_dir());
    let mut out = Vec::new();
    loop {
        let next = std::future::poll_fn(|cx| entries.as_mut().poll_next(cx));
        match tmo(t, async { next.await.transpose() }).await? {
            Some(e) => out.push((e.filename().to_string_lossy().into_owned(), e.metadata())),
            None => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names() {
        let t = temporary_key("packs/ab/cd");
        assert!(t.starts_with("packs/ab/.tmp.") && is_temporary(&t), "{t}");
        assert!(is_temporary(&temporary_key("config")));
        assert!(!is_temporary("packs/ab/cd"));
    }
}
