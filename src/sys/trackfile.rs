//! `track_file` trackers: a number read from a file, re-read when the file
//! changes.
//!
//! Behaviour follows keepalived 2.2.7: the value is the file's first bytes
//! parsed like C `strtol(buf, NULL, 0)` and clamped to ±254; a missing,
//! unreadable or empty file counts as 0. Changes are seen through inotify on
//! the file's *directory*, so that a file that is deleted, created later, or
//! atomically replaced by `rename(2)` keeps being tracked.

use std::ffi::{CString, OsString};
use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Largest value a tracked file can report; larger ones are clamped.
const LIMIT: i64 = 254;

/// keepalived reads at most this many bytes (a 128-byte buffer with room for
/// the terminating NUL); anything after is never looked at.
const READ_MAX: usize = 127;

/// Fixed part of `struct inotify_event`: wd, mask, cookie, len.
const EVENT_HEADER: usize = 16;

/// C `strtol(bytes, NULL, 0)` then clamped to ±254.
///
/// Leading C-locale whitespace and one optional sign are skipped; `0x`/`0X`
/// selects hexadecimal, a leading `0` octal, anything else decimal. Parsing
/// stops at the first byte that is not a digit of the base; no digits gives 0.
/// Overflow saturates (as `strtol` does at `LONG_MAX`) before the clamp.
pub fn parse_value(bytes: &[u8]) -> i64 {
    let mut rest = bytes;
    while let [b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r', tail @ ..] = rest {
        rest = tail;
    }
    let negative = match rest {
        [b'-', tail @ ..] => {
            rest = tail;
            true
        }
        [b'+', tail @ ..] => {
            rest = tail;
            false
        }
        _ => false,
    };
    let radix = match rest {
        // Like glibc, "0x" only means hex when a hex digit follows; "0xg"
        // parses as the single digit 0, which the octal branch yields too.
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => {
            rest = &rest[2..];
            16
        }
        [b'0', ..] => 8,
        _ => 10,
    };
    let mut magnitude: u64 = 0;
    for &b in rest {
        let Some(digit) = char::from(b).to_digit(radix) else { break };
        magnitude = magnitude.saturating_mul(u64::from(radix)).saturating_add(u64::from(digit));
    }
    // Saturation then clamping equals clamping the magnitude directly.
    let clamped = i64::try_from(magnitude).unwrap_or(i64::MAX).min(LIMIT);
    if negative { -clamped } else { clamped }
}

/// The current value of the file at `path`: 0 when it is missing, unreadable
/// or empty.
pub fn read_value(path: &Path) -> i64 {
    read_from(path)
}

/// [`read_value`] for any path form; the watcher passes its stored C strings
/// so the event loop does not allocate.
fn read_from<P: rustix::path::Arg>(path: P) -> i64 {
    // NONBLOCK: a FIFO or device at the path must not stall the daemon.
    // A path rustix cannot convert (an inner NUL) names no file: 0 as well.
    let Ok(fd) = rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()) else {
        return 0;
    };
    let mut buf = [0u8; READ_MAX];
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => continue,
            // Whatever was read before an error is still the file's start.
            Err(_) => break,
        }
    }
    parse_value(&buf[..len])
}

/// keepalived's `init_file [VAL] [overwrite]`: writes `value` and a newline to
/// `path` when the file is missing, or always when `overwrite`.
pub fn init_file(path: &Path, value: i64, overwrite: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        // create_new rather than exists()+create: no window in which another
        // writer's file could be clobbered.
        options.create_new(true);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if !overwrite && e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    };
    // The line is a few bytes: format it on the stack and write it at once.
    let mut line = [0u8; 24];
    let mut cursor = std::io::Cursor::new(&mut line[..]);
    writeln!(cursor, "{value}")?;
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    file.write_all(&line[..len])
}

/// What the last event seen for a file in one [`Watcher::drain`] asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pending {
    None,
    /// The name went away (deleted or renamed elsewhere): value 0.
    Gone,
    /// Written or renamed into place: read it again.
    Reread,
}

/// One tracked file.
struct Watched {
    key: usize,
    /// Watch descriptor of the file's directory.
    wd: i32,
    /// The file's name inside that directory, as inotify reports it.
    name: Box<[u8]>,
    /// The canonical path, kept as a C string so reads do not allocate.
    path: CString,
    pending: Pending,
}

/// One inotify fd watching the directories of several files; `key` is the
/// caller's id for a file (a tracker index).
pub struct Watcher {
    fd: OwnedFd,
    files: Vec<Watched>,
}

impl Watcher {
    /// Watches the directory of every file. Errors (a `String` naming the path)
    /// when a directory is missing or inotify fails. Two files in one
    /// directory share a watch.
    ///
    /// Each path is canonicalized first, so a symlink is followed to the file
    /// it points to now; a file that does not exist yet is fine as long as its
    /// directory does.
    pub fn new(files: &[(usize, &Path)]) -> Result<Watcher, String> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)
            .map_err(|e| format!("track_file: cannot create inotify instance: {e}"))?;
        let mut watched = Vec::with_capacity(files.len());
        for &(key, path) in files {
            let (dir, name) = split_canonical(path)?;
            // inotify hands back the same wd for a directory already watched
            // (same inode), so files in one directory share a watch; the mask
            // is identical so re-adding changes nothing.
            let wd = inotify::add_watch(&fd, &dir, WatchFlags::CLOSE_WRITE | WatchFlags::DELETE | WatchFlags::MOVE)
                .map_err(|e| format!("track_file {}: cannot watch directory {}: {e}", path.display(), dir.display()))?;
            let full = dir.join(&name);
            let c_path = CString::new(full.as_os_str().as_bytes())
                .map_err(|_| format!("track_file {}: path contains a NUL byte", path.display()))?;
            watched.push(Watched { key, wd, name: name.as_bytes().into(), path: c_path, pending: Pending::None });
        }
        Ok(Watcher { fd, files: watched })
    }

    /// The inotify fd (non-blocking, CLOEXEC), for the event loop to wait on.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Reports the current value of every file (read at start).
    pub fn read_all(&self, f: &mut dyn FnMut(usize, i64)) {
        for file in &self.files {
            f(file.key, read_from(file.path.as_c_str()));
        }
    }

    /// Reads every pending inotify event without blocking and reports
    /// `(key, new value)` for the watched files they touch. On queue overflow
    /// every file is re-read. Never blocks, never panics on short or odd reads.
    ///
    /// Several events for one file in one call are coalesced into one report,
    /// with the outcome of the last event: a burst of writes is one re-read.
    pub fn drain(&mut self, f: &mut dyn FnMut(usize, i64)) {
        // Big enough for many events; the kernel needs at least one header
        // plus NAME_MAX + 1 or it fails the read with EINVAL.
        let mut buf = [0u8; 4096];
        let mut overflow = false;
        loop {
            let n = match rustix::io::read(&self.fd, &mut buf[..]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                // AGAIN: queue empty. Anything else cannot be recovered by
                // retrying now; the next readiness will try again.
                Err(_) => break,
            };
            let files = &mut self.files;
            for_each_event(&buf[..n.min(buf.len())], &mut |wd, mask, name| {
                let mask = ReadFlags::from_bits_retain(mask);
                if mask.contains(ReadFlags::QUEUE_OVERFLOW) {
                    overflow = true;
                    return;
                }
                // A directory appearing or going under the tracked name is
                // not the file changing.
                if mask.contains(ReadFlags::ISDIR) {
                    return;
                }
                let outcome = if mask.intersects(ReadFlags::CLOSE_WRITE | ReadFlags::MOVED_TO) {
                    Pending::Reread
                } else if mask.intersects(ReadFlags::DELETE | ReadFlags::MOVED_FROM) {
                    Pending::Gone
                } else {
                    return;
                };
                for file in files.iter_mut().filter(|w| w.wd == wd && *w.name == *name) {
                    file.pending = outcome;
                }
            });
        }
        for file in &mut self.files {
            let pending = std::mem::replace(&mut file.pending, Pending::None);
            // Events were lost, so whatever happened is unknown: read afresh.
            let pending = if overflow { Pending::Reread } else { pending };
            match pending {
                Pending::None => {}
                Pending::Gone => f(file.key, 0),
                Pending::Reread => f(file.key, read_from(file.path.as_c_str())),
            }
        }
    }
}

/// Canonical directory and file name of `path`; only the directory has to
/// exist.
fn split_canonical(path: &Path) -> Result<(PathBuf, OsString), String> {
    if let Ok(real) = std::fs::canonicalize(path) {
        if let (Some(dir), Some(name)) = (real.parent(), real.file_name()) {
            return Ok((dir.to_path_buf(), name.to_os_string()));
        }
        return Err(format!("track_file {}: not a file path", path.display()));
    }
    let name = path.file_name().ok_or_else(|| format!("track_file {}: not a file path", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        // "name" alone is relative to the working directory.
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent)
        .map_err(|e| format!("track_file {}: directory {} does not exist: {e}", path.display(), parent.display()))?;
    Ok((dir, name.to_os_string()))
}

/// Walks the `struct inotify_event` records in `buf`, calling
/// `f(wd, mask, name)` with the name stripped of its NUL padding. A record
/// cut short stops the walk instead of being trusted.
fn for_each_event(buf: &[u8], f: &mut dyn FnMut(i32, u32, &[u8])) {
    let mut rest = buf;
    while rest.len() >= EVENT_HEADER {
        let (header, tail) = rest.split_at(EVENT_HEADER);
        let word = |i: usize| u32::from_ne_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let wd = i32::from_ne_bytes(word(0).to_ne_bytes());
        let mask = word(4);
        let Ok(len) = usize::try_from(word(12)) else { return };
        let Some(name) = tail.get(..len) else { return };
        let name = match name.iter().position(|&b| b == 0) {
            Some(end) => &name[..end],
            None => name,
        };
        f(wd, mask, name);
        rest = &tail[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sys::testkit::TempDir;

    fn drained(w: &mut Watcher) -> Vec<(usize, i64)> {
        let mut out = Vec::new();
        w.drain(&mut |k, v| out.push((k, v)));
        out
    }

    #[test]
    fn parse_value_is_strtol_base0_clamped() {
        let cases: &[(&[u8], i64)] = &[
            (b"5", 5),
            (b" 12\n", 12),
            (b"\t\x0b\x0c\r\n 7", 7),
            (b"-3", -3),
            (b"+4", 4),
            (b"0x10", 16),
            (b"0X1f", 31),
            (b"-0x10", -16),
            (b"010", 8),
            (b"08", 0),
            (b"0", 0),
            (b"0x", 0),
            (b"0xg", 0),
            (b"abc", 0),
            (b"", 0),
            (b"-", 0),
            (b"+-1", 0),
            (b"- 1", 0),
            (b"999", 254),
            (b"-999", -254),
            (b"254", 254),
            (b"-254", -254),
            (b"255", 254),
            (b"7abc", 7),
            (b"12 34", 12),
            (b"1\x002", 1),
            (b"99999999999999999999999999999999", 254),
            (b"-99999999999999999999999999999999", -254),
            (b"0xffffffffffffffffffffffffffff", 254),
            (b"-0777777777777777777777777777777", -254),
            (b"9223372036854775808", 254),
            (b"-9223372036854775808", -254),
        ];
        for &(input, want) in cases {
            assert_eq!(parse_value(input), want, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn read_value_handles_missing_empty_and_long_files() {
        let dir = TempDir::new("read");
        assert_eq!(read_value(&dir.path("missing")), 0);
        std::fs::write(dir.path("empty"), b"").unwrap();
        assert_eq!(read_value(&dir.path("empty")), 0);
        std::fs::write(dir.path("ten"), b"10\n").unwrap();
        assert_eq!(read_value(&dir.path("ten")), 10);
        // Only the first 127 bytes count: digits beyond them are not seen.
        let mut long = vec![b' '; 126];
        long.extend_from_slice(b"12");
        std::fs::write(dir.path("long"), &long).unwrap();
        assert_eq!(read_value(&dir.path("long")), 1);
        // A directory is unreadable as a file.
        assert_eq!(read_value(&dir.0), 0);
        assert_eq!(read_value(Path::new("a\0b")), 0);
    }

    #[test]
    fn init_file_creates_or_overwrites() {
        let dir = TempDir::new("init");
        let p = dir.path("f");
        init_file(&p, 5, false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"5\n");
        init_file(&p, 9, false).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"5\n", "existing file kept without overwrite");
        init_file(&p, -12, true).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"-12\n");
        init_file(&dir.path("g"), 0, true).unwrap();
        assert_eq!(std::fs::read(dir.path("g")).unwrap(), b"0\n");
        assert!(init_file(&dir.path("nodir/f"), 1, false).is_err());
    }

    #[test]
    fn watcher_reports_changes_of_watched_files_only() {
        let a = TempDir::new("watch-a");
        let b = TempDir::new("watch-b");
        std::fs::write(a.path("one"), b"1\n").unwrap();
        std::fs::write(b.path("three"), b"3").unwrap();
        let one = a.path("one");
        let two = a.path("two"); // does not exist yet
        let three = b.path("three");
        let mut w = Watcher::new(&[(10, &one), (20, &two), (30, &three)]).unwrap();

        let mut start = Vec::new();
        w.read_all(&mut |k, v| start.push((k, v)));
        assert_eq!(start, [(10, 1), (20, 0), (30, 3)]);

        // Nothing happened: returns at once with nothing.
        assert_eq!(drained(&mut w), []);

        // write + close.
        std::fs::write(&one, b"0x20").unwrap();
        assert_eq!(drained(&mut w), [(10, 32)]);

        // Atomic replace: write a temporary name, rename it over the file.
        std::fs::write(a.path("two.tmp"), b"-7\n").unwrap();
        std::fs::rename(a.path("two.tmp"), &two).unwrap();
        assert_eq!(drained(&mut w), [(20, -7)]);

        // The other directory.
        std::fs::write(&three, b"300").unwrap();
        assert_eq!(drained(&mut w), [(30, 254)]);

        // Other names in a watched directory are ignored.
        std::fs::write(a.path("other"), b"5").unwrap();
        std::fs::remove_file(a.path("other")).unwrap();
        assert_eq!(drained(&mut w), []);

        // Delete.
        std::fs::remove_file(&one).unwrap();
        assert_eq!(drained(&mut w), [(10, 0)]);

        // A directory under the tracked name is not the file.
        std::fs::create_dir(&one).unwrap();
        std::fs::remove_dir(&one).unwrap();
        assert_eq!(drained(&mut w), []);

        // Renamed away: the name is gone.
        std::fs::rename(&two, a.path("elsewhere")).unwrap();
        assert_eq!(drained(&mut w), [(20, 0)]);

        // A burst for one file is one report with the final outcome.
        std::fs::write(&one, b"1").unwrap();
        std::fs::write(&one, b"2").unwrap();
        std::fs::remove_file(&one).unwrap();
        std::fs::write(&one, b"4").unwrap();
        assert_eq!(drained(&mut w), [(10, 4)]);
        std::fs::write(&one, b"5").unwrap();
        std::fs::remove_file(&one).unwrap();
        assert_eq!(drained(&mut w), [(10, 0)]);
    }

    #[test]
    fn watcher_shares_directory_and_reports_every_key_of_a_file() {
        let a = TempDir::new("shared");
        let f = a.path("f");
        let g = a.path("g");
        let mut w = Watcher::new(&[(1, &f), (2, &g), (3, &f)]).unwrap();
        assert_eq!(w.files[0].wd, w.files[1].wd);
        std::fs::write(&f, b"8").unwrap();
        assert_eq!(drained(&mut w), [(1, 8), (3, 8)]);
    }

    #[test]
    fn watcher_follows_symlink_to_its_target_directory() {
        let a = TempDir::new("link-a");
        let b = TempDir::new("link-b");
        std::fs::write(b.path("real"), b"2").unwrap();
        std::os::unix::fs::symlink(b.path("real"), a.path("link")).unwrap();
        let link = a.path("link");
        let mut w = Watcher::new(&[(0, &link)]).unwrap();
        std::fs::write(b.path("real.tmp"), b"6").unwrap();
        std::fs::rename(b.path("real.tmp"), b.path("real")).unwrap();
        assert_eq!(drained(&mut w), [(0, 6)]);
    }

    #[test]
    fn watcher_rereads_everything_after_queue_overflow() {
        let limit: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(usize::MAX);
        if limit > 100_000 {
            eprintln!("skipped: max_queued_events {limit} too large to overflow quickly");
            return;
        }
        let a = TempDir::new("overflow");
        let f = a.path("f");
        let g = a.path("g");
        std::fs::write(&f, b"1").unwrap();
        std::fs::write(&g, b"2").unwrap();
        let mut w = Watcher::new(&[(0, &f), (1, &g)]).unwrap();
        // Alternate names: the kernel merges identical back-to-back events.
        let other = [a.path("x"), a.path("y")];
        for i in 0..=limit {
            drop(std::fs::File::create(&other[i % 2]).unwrap());
        }
        assert_eq!(drained(&mut w), [(0, 1), (1, 2)]);
        assert_eq!(drained(&mut w), []);
    }

    #[test]
    fn watcher_errors_name_the_path_when_directory_is_missing() {
        let a = TempDir::new("missing");
        let p = a.path("nodir/file");
        let err = Watcher::new(&[(0, &p)]).err().unwrap();
        assert!(err.contains(&*p.to_string_lossy()), "{err}");
    }

    #[test]
    fn event_walk_survives_odd_buffers() {
        fn event(wd: i32, mask: u32, name: &[u8], pad: usize) -> Vec<u8> {
            let mut v = Vec::new();
            v.extend_from_slice(&wd.to_ne_bytes());
            v.extend_from_slice(&mask.to_ne_bytes());
            v.extend_from_slice(&0u32.to_ne_bytes());
            v.extend_from_slice(&u32::try_from(name.len() + pad).unwrap().to_ne_bytes());
            v.extend_from_slice(name);
            v.extend(std::iter::repeat_n(0, pad));
            v
        }
        let mut buf = event(1, 8, b"a", 3);
        buf.extend(event(-1, ReadFlags::QUEUE_OVERFLOW.bits(), b"", 0));
        buf.extend(event(2, 8, b"bb", 14));
        let mut seen = Vec::new();
        for_each_event(&buf, &mut |wd, mask, name| seen.push((wd, mask, name.to_vec())));
        assert_eq!(
            seen,
            [(1, 8, b"a".to_vec()), (-1, ReadFlags::QUEUE_OVERFLOW.bits(), vec![]), (2, 8, b"bb".to_vec())]
        );

        // Every truncation of the buffer: no panic, only whole records.
        for cut in 0..buf.len() {
            let mut count = 0;
            for_each_event(&buf[..cut], &mut |_, _, _| count += 1);
            assert!(count <= 3);
        }
        // A length field pointing far past the end.
        let mut bad = event(1, 8, b"x", 0);
        bad[12..16].copy_from_slice(&u32::MAX.to_ne_bytes());
        for_each_event(&bad, &mut |_, _, _| panic!("must not report a cut record"));
    }
}
