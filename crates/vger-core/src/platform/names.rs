//! Names as the snapshot stores them: bytes. On Unix a name is its bytes, whatever they are. On
//! Windows a name is UTF-16 and is stored as UTF-8; a name that is not valid Unicode (an unpaired
//! surrogate) cannot be stored, and a stored name that is not UTF-8 (a Unix name) cannot be
//! created: both are per-entry errors (`VGER_IO`, kind `InvalidData`), never a panic.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::Path;

use vger_types::VgerError;

/// The bytes of `s`; `None` on Windows when it is not valid Unicode.
pub fn bytes(s: &OsStr) -> Option<&[u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(s.as_bytes())
    }
    #[cfg(not(unix))]
    {
        s.to_str().map(str::as_bytes)
    }
}

/// The bytes of `s`, for messages and keys only: on Windows a name that is not valid Unicode has
/// its bad parts replaced.
pub fn bytes_lossy(s: &OsStr) -> Cow<'_, [u8]> {
    match bytes(s) {
        Some(b) => Cow::Borrowed(b),
        None => Cow::Owned(s.to_string_lossy().into_owned().into_bytes()),
    }
}

/// The name of stored bytes `b`; `None` on Windows when they are not UTF-8.
pub fn os_str(b: &[u8]) -> Option<&OsStr> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(OsStr::from_bytes(b))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(b).ok().map(OsStr::new)
    }
}

/// The name of stored bytes `b`, for paths of messages (and, on Unix, exact): on Windows bytes
/// that are not UTF-8 have their bad parts replaced.
pub fn os_str_lossy(b: &[u8]) -> Cow<'_, OsStr> {
    match os_str(b) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(String::from_utf8_lossy(b).into_owned().into()),
    }
}

/// The error of a name that cannot be stored or created on this platform.
pub fn not_unicode(path: &Path) -> VgerError {
    VgerError::io(
        format!("naming {}", path.display()),
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the name is not valid Unicode, which Windows names must be to be stored or restored; rename it",
        ),
    )
}
