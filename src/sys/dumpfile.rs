//! Replacing a file in a directory other users may write to (keepalived's
//! `/tmp/keepalived.data` and `.stats`) without ever following a symlink:
//! the text goes to a new file under a random name, created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, which is then renamed over the target.
//! keepalived before 2.0.11 opened the target itself and wrote through a
//! planted symlink (CVE-2018-19044, CVE-2018-19046); here the only path
//! ever opened is one this function just created, and `rename` replaces a
//! symlink at the target instead of resolving it. Readers see the old file
//! or the new one, never a half-written one.
//!
//! In a sticky directory (`/tmp`) a target owned by another user cannot be
//! replaced without CAP_FOWNER: the rename fails and the error is returned,
//! nothing is written anywhere else.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Attempts at a free temporary name before giving up: a name is taken
/// only by a leftover of a crash or by somebody squatting in the directory.
const TRIES: usize = 16;

/// Writes `contents` to `dir/name` with permissions `mode`, replacing
/// whatever is there (a symlink included, which is replaced, not followed).
/// `name` must be a plain file name.
pub fn replace(dir: &Path, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    replace_with(dir, name, contents, mode, &mut || temp_name(name))
}

/// [`replace`] with the temporary names taken from `next` (tests plant
/// files at the names it will try).
fn replace_with(
    dir: &Path,
    name: &str,
    contents: &[u8],
    mode: u32,
    next: &mut dyn FnMut() -> String,
) -> io::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a plain file name"));
    }
    let dirfd = rustix::fs::open(dir, OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let (tmp, file) = create_temp(&dirfd, mode, next)?;
    let written = fill(&file, contents, mode);
    drop(file);
    let result = written.and_then(|()| rustix::fs::renameat(&dirfd, &tmp, &dirfd, name).map_err(io::Error::from));
    if result.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = rustix::fs::unlinkat(&dirfd, &tmp, rustix::fs::AtFlags::empty());
    }
    result
}

/// A new file in `dirfd`, under the first name from `next` that is free.
fn create_temp(dirfd: &OwnedFd, mode: u32, next: &mut dyn FnMut() -> String) -> io::Result<(String, OwnedFd)> {
    // O_EXCL alone already refuses a symlink at the name; O_NOFOLLOW says
    // so for the reader.
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..TRIES {
        let tmp = next();
        match rustix::fs::openat(dirfd, &tmp, flags, Mode::from_raw_mode(mode & 0o777)) {
            Ok(fd) => return Ok((tmp, fd)),
            Err(rustix::io::Errno::EXIST) => last = io::Error::from(io::ErrorKind::AlreadyExists),
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(last.kind(), "no free temporary name"))
}

/// Exactly `mode` (the umask may have taken bits off), then the text.
fn fill(file: &OwnedFd, contents: &[u8], mode: u32) -> io::Result<()> {
    rustix::fs::fchmod(file, Mode::from_raw_mode(mode & 0o777))?;
    let mut rest = contents;
    while !rest.is_empty() {
        match rustix::io::write(file.as_fd(), rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `.NAME.vipd-XXXXXXXXXXXXXXXX`: hidden, and random so that nobody can
/// plant a file at the next name in advance.
fn temp_name(name: &str) -> String {
    format!(".{name}.vipd-{:016x}", random_u64())
}

fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom writes at most `buf.len()` bytes into the live,
    // writable `buf`; the return value is checked.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), libc::GRND_NONBLOCK) };
    if n == buf.len() as isize {
        return u64::from_ne_bytes(buf);
    }
    // No entropy yet (early boot): still unique per call, which is all
    // O_EXCL needs; retries cover a squatter.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let c = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    t ^ (u64::from(std::process::id()) << 32) ^ c.rotate_left(17)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::PathBuf;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vipd-dumpfile-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    /// Files in `dir` other than `keep`.
    fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect();
        crate::sort::heap_sort(&mut v);
        v
    }

    #[test]
    fn writes_a_new_file_with_the_mode_asked() {
        let d = scratch("new");
        replace(&d, "keepalived.data", b"hello\n", 0o600).expect("replace");
        let p = d.join("keepalived.data");
        assert_eq!(fs::read(&p).expect("read"), b"hello\n");
        assert_eq!(fs::metadata(&p).expect("meta").permissions().mode() & 0o777, 0o600);
        replace(&d, "keepalived.data", b"again\n", 0o644).expect("replace");
        assert_eq!(fs::read(&p).expect("read"), b"again\n");
        assert_eq!(fs::metadata(&p).expect("meta").permissions().mode() & 0o777, 0o644);
        assert!(others(&d, &["keepalived.data"]).is_empty(), "temporary files left");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_not_followed() {
        let d = scratch("symlink");
        let victim = d.join("victim");
        fs::write(&victim, b"precious").expect("victim");
        let target = d.join("keepalived.stats");
        symlink(&victim, &target).expect("plant symlink");
        replace(&d, "keepalived.stats", b"stats\n", 0o600).expect("replace");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious", "the symlink was followed");
        let meta = fs::symlink_metadata(&target).expect("target");
        assert!(meta.file_type().is_file(), "the target is still a symlink");
        assert_eq!(fs::read(&target).expect("target"), b"stats\n");
        // A dangling symlink (to a file an attacker wants created) too.
        let planted = d.join("created-by-us");
        fs::remove_file(&target).expect("rm");
        symlink(&planted, &target).expect("plant dangling symlink");
        replace(&d, "keepalived.stats", b"stats2\n", 0o600).expect("replace");
        assert!(!planted.exists(), "a file was created through the symlink");
        assert_eq!(fs::read(&target).expect("target"), b"stats2\n");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn taken_temporary_names_are_skipped_and_left_alone() {
        let d = scratch("taken");
        let victim = d.join("victim");
        fs::write(&victim, b"precious").expect("victim");
        // A leftover of a crash, and a symlink squatting on the next name.
        fs::write(d.join(".t1"), b"leftover").expect("leftover");
        symlink(&victim, d.join(".t2")).expect("squatter");
        let mut names = [".t1", ".t2", ".t3"].into_iter().map(str::to_owned);
        let mut next = || names.next().unwrap_or_else(|| ".t9".to_owned());
        replace_with(&d, "keepalived.data", b"data\n", 0o600, &mut next).expect("replace");
        assert_eq!(fs::read(d.join("keepalived.data")).expect("read"), b"data\n");
        assert_eq!(fs::read(d.join(".t1")).expect("leftover"), b"leftover");
        assert_eq!(fs::read(&victim).expect("victim"), b"precious");
        assert_eq!(others(&d, &["keepalived.data", "victim"]), [".t1", ".t2"]);
        // Every name taken: an error, nothing written, nothing left.
        let mut same = || ".t1".to_owned();
        let err = replace_with(&d, "keepalived.data", b"other\n", 0o600, &mut same).expect_err("all names taken");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(d.join("keepalived.data")).expect("read"), b"data\n");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn concurrent_writers_never_leave_a_partial_file() {
        let d = scratch("concurrent");
        let texts: Vec<Vec<u8>> = (0..4u8).map(|k| vec![b'a' + k; 64 * 1024]).collect();
        std::thread::scope(|s| {
            for t in &texts {
                let d = &d;
                s.spawn(move || {
                    for _ in 0..50 {
                        replace(d, "keepalived.data", t, 0o600).expect("replace");
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    if let Ok(got) = fs::read(d.join("keepalived.data")) {
                        assert!(texts.contains(&got), "a reader saw a mixed or partial file ({} bytes)", got.len());
                    }
                }
            });
        });
        let got = fs::read(d.join("keepalived.data")).expect("read");
        assert!(texts.contains(&got));
        assert!(others(&d, &["keepalived.data"]).is_empty(), "temporary files left");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn errors_are_returned_and_nothing_is_left() {
        let d = scratch("errors");
        let missing = d.join("missing");
        assert!(replace(&missing, "keepalived.data", b"x", 0o600).is_err());
        assert!(replace(&d, "../escape", b"x", 0o600).is_err());
        assert!(replace(&d, "", b"x", 0o600).is_err());
        // A directory at the target: rename refuses, the temp is removed.
        fs::create_dir(d.join("keepalived.data")).expect("dir");
        assert!(replace(&d, "keepalived.data", b"x", 0o600).is_err());
        assert!(others(&d, &["keepalived.data"]).is_empty(), "temporary files left");
        let _ = fs::remove_dir_all(&d);
    }
}
