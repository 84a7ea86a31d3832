//! Files herokuops writes and reads, done safely at the edges:
//!
//! - an output path (`-o FILE`) that is a regular file or absent is replaced atomically (a
//!   temporary file beside it, then a rename); anything else (`/dev/null`, a FIFO, a terminal,
//!   `-` for stdout) is written in place, since renaming over it would replace a device with a
//!   regular file;
//! - private files (journals, downloaded backups) are created 0600, in directories created 0700;
//! - a file we append to or resume (a partial download) is never reached through a symlink;
//! - files given as input are read up to a cap, so `--config /dev/zero` is an error, not a
//!   process that grows until the machine runs out of memory.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `O_NOFOLLOW`: opening a symlink fails instead of following it.
pub const NO_FOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// The mode of files only their owner should read: journals, backups, tokens.
pub const PRIVATE: u32 = 0o600;
/// The mode of a new file meant to be shared (a schema snapshot, a workflow).
pub const SHARED: u32 = 0o644;

/// How an output path is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// `-`: the process's standard output.
    Stdout,
    /// A device, a FIFO, a socket: opened and written where it is.
    InPlace,
    /// Absent, or a regular file: written beside it and renamed over it.
    Replace,
}

/// What `path` is, as far as writing it goes. A symlink is judged by what it points to, so
/// `/dev/stdout` is written in place and a link to a regular file is replaced (the link, not
/// its target).
pub fn output_kind(path: &Path) -> OutputKind {
    if path == Path::new("-") {
        return OutputKind::Stdout;
    }
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() && !meta.is_dir() => OutputKind::InPlace,
        _ => OutputKind::Replace,
    }
}

/// Whether `path` is a regular file that a write would replace (for `--force` checks): a
/// device or a FIFO is written to, not replaced.
pub fn would_replace(path: &Path) -> bool {
    output_kind(path) == OutputKind::Replace && path.exists()
}

/// Whether the file type is one written in place.
pub fn is_special(file_type: &std::fs::FileType) -> bool {
    file_type.is_char_device()
        || file_type.is_block_device()
        || file_type.is_fifo()
        || file_type.is_socket()
}

/// Writes `bytes` to an output path: atomically over a regular file (keeping its permissions;
/// a new file gets `mode`), in place for a device or FIFO, to stdout for `-`. A reader of
/// stdout that went away is not an error.
pub fn write_output(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    match output_kind(path) {
        OutputKind::Stdout => {
            let mut out = std::io::stdout().lock();
            match out.write_all(bytes).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            }
        }
        OutputKind::InPlace => {
            let mut file = OpenOptions::new().write(true).open(path)?;
            file.write_all(bytes)?;
            file.flush()
        }
        OutputKind::Replace => {
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(mode);
            replace_atomically(path, bytes, mode)
        }
    }
}

/// A temporary file in `path`'s directory (0600 until renamed), filled, synced and renamed
/// over `path`. An interrupted write leaves the old file, never half a new one.
pub fn replace_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(PRIVATE))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if mode != PRIVATE {
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Creates `dir` and its missing parents, each new one 0700. An existing directory is left
/// as it is: it is the operator's.
pub fn create_private_dir_all(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates a new file, 0600, failing if anything (a file, a symlink) is already there.
pub fn create_new_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE)
        .custom_flags(NO_FOLLOW)
        .open(path)
}

/// Opens an existing file to append to it, refusing a symlink (`ELOOP`).
pub fn open_append_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .append(true)
        .custom_flags(NO_FOLLOW)
        .open(path)
}

/// Opens an existing file to read it, refusing a symlink.
pub fn open_read_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(NO_FOLLOW)
        .open(path)
}

/// The largest file herokuops reads as input (settings, expected schemas, app lists, tokens,
/// journals): far beyond any real one, far below what would hurt the machine.
pub const INPUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("could not read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than {}; is it the right file?", .path.display(), crate::output::progress::human_bytes(*.limit))]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{} is not UTF-8 text", .path.display())]
    NotText { path: PathBuf },
}

impl InputError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Reads a text file of at most `limit` bytes; a larger one (or an endless one, such as
/// `/dev/zero`) is an error once `limit` bytes have been read, not a process that keeps
/// growing.
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String, InputError> {
    let read_error = |source| InputError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    read_capped(file, limit)
        .map_err(read_error)?
        .ok_or_else(|| InputError::TooLarge {
            path: path.to_path_buf(),
            limit,
        })
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| InputError::NotText {
                path: path.to_path_buf(),
            })
        })
}

/// Reads one line of at most `limit` bytes (a token typed or piped in); `None` when the line
/// goes on past it.
pub fn read_line_capped(
    reader: impl std::io::BufRead,
    limit: u64,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    reader.take(limit + 1).read_line(&mut line)?;
    Ok((line.len() as u64 <= limit).then_some(line))
}

/// Reads at most `limit` bytes; `None` when there is more.
pub fn read_capped(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A null device of the test's own where one can be made (as root), so that a mistake
    /// could not replace the machine's `/dev/null`; else the machine's, which only root could.
    pub(crate) fn private_null(dir: &Path) -> PathBuf {
        let node = dir.join("null");
        let made = std::process::Command::new("mknod")
            .arg(&node)
            .args(["c", "1", "3"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if made {
            node
        } else {
            PathBuf::from("/dev/null")
        }
    }

    #[test]
    fn item_06_devices_are_written_in_place_and_regular_files_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let devices = tempfile::tempdir().unwrap();
        let null = private_null(devices.path());
        assert_eq!(output_kind(&null), OutputKind::InPlace);
        assert_eq!(output_kind(Path::new("-")), OutputKind::Stdout);
        let file = dir.path().join("snapshot.toml");
        assert_eq!(output_kind(&file), OutputKind::Replace);
        write_output(&file, b"one", SHARED).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, SHARED);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_output(&file, b"two", SHARED).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "a replaced file keeps its permissions");

        write_output(&null, b"gone", SHARED).unwrap();
        let meta = std::fs::metadata(&null).unwrap();
        assert!(meta.file_type().is_char_device(), "the device was replaced");
        // Only the file itself is left: no temporary file beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn item_08_private_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("state/herokuops/runs");
        create_private_dir_all(&nested).unwrap();
        for d in [dir.path().join("state"), nested.clone()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        let file = nested.join("x");
        create_new_private(&file).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            create_new_private(&file).is_err(),
            "never over an existing file"
        );
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_append_no_follow(&link).is_err());
        assert!(open_read_no_follow(&link).is_err());
        assert!(create_new_private(&link).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    }

    #[test]
    fn item_14_input_files_are_read_up_to_a_cap() {
        let err = read_text_capped(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }), "{err}");
        assert!(
            err.to_string().contains("/dev/zero is larger than"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "ok").unwrap();
        assert_eq!(read_text_capped(&small, 2).unwrap(), "ok");
        assert!(
            read_text_capped(&dir.path().join("absent"), 2)
                .unwrap_err()
                .is_not_found()
        );
    }
}
