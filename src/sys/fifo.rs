//! Notification FIFOs (`notify_fifo`, `vrrp_notify_fifo`): one line per
//! state change, e.g. `INSTANCE "VI_1" MASTER 150`.
//!
//! As in keepalived the FIFO is opened read-write and non-blocking: holding
//! our own read end means opening never waits for a reader and writes never
//! fail with EPIPE, and a full pipe drops the line instead of stalling the
//! daemon. Unread lines stay queued (up to the pipe's capacity) for the next
//! reader.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

/// Longest line written. Well under PIPE_BUF (4096), so each write(2) is
/// atomic and lines from one writer never interleave with another's.
const LINE_MAX: usize = 1024;

/// Mode of a FIFO we create: keepalived's 0644.
const FIFO_MODE: u32 = 0o644;

/// An open notification FIFO.
pub struct Fifo {
    fd: OwnedFd,
    path: PathBuf,
    dropped: u64,
}

impl Fifo {
    /// Opens the FIFO at `path`, creating it (mode 0644, then chowned to
    /// `owner` = (uid, gid) when given) if it does not exist. Errors, as a
    /// `String` naming the path, when the path exists but is not a FIFO or
    /// cannot be created or opened.
    ///
    /// The mode and owner are only set on a FIFO created here; an existing one
    /// is left as its owner made it.
    pub fn open(path: &Path, owner: Option<(u32, u32)>) -> Result<Fifo, String> {
        let shown = path.display();
        let created = match rustix::fs::stat(path) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Fifo => false,
            Ok(_) => return Err(format!("notify fifo {shown}: exists and is not a FIFO")),
            Err(Errno::NOENT) => match rustix::fs::mkfifoat(rustix::fs::CWD, path, Mode::from_raw_mode(FIFO_MODE)) {
                Ok(()) => true,
                // Someone made it between stat and mkfifo; the fstat below
                // still checks what it is.
                Err(Errno::EXIST) => false,
                Err(e) => return Err(format!("notify fifo {shown}: cannot create: {e}")),
            },
            Err(e) => return Err(format!("notify fifo {shown}: {e}")),
        };
        // No O_CREAT: open never makes a regular file at the path.
        let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| format!("notify fifo {shown}: cannot open: {e}"))?;
        // Check the object actually opened, closing the race with a file
        // swapped in after the stat above.
        let st = rustix::fs::fstat(&fd).map_err(|e| format!("notify fifo {shown}: {e}"))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
            return Err(format!("notify fifo {shown}: exists and is not a FIFO"));
        }
        if created {
            // mkfifo's mode is filtered by the umask; set it exactly.
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(FIFO_MODE))
                .map_err(|e| format!("notify fifo {shown}: cannot set mode: {e}"))?;
            if let Some((uid, gid)) = owner {
                // u32::MAX is chown(2)'s "leave unchanged".
                let uid = (uid != u32::MAX).then(|| Uid::from_raw(uid));
                let gid = (gid != u32::MAX).then(|| Gid::from_raw(gid));
                rustix::fs::fchown(&fd, uid, gid).map_err(|e| format!("notify fifo {shown}: cannot chown: {e}"))?;
            }
        }
        Ok(Fifo { fd, path: path.to_path_buf(), dropped: 0 })
    }

    /// Writes `KIND "NAME" STATE PRIO\n` (e.g. `INSTANCE "VI_1" MASTER 150`)
    /// with a single write(2). The line is built on the stack; a name too long
    /// for it is cut (at a character boundary) so the line keeps its shape.
    /// Returns false, and counts a drop, if the line could not be written
    /// whole (pipe full, or any error). Never blocks.
    pub fn notify(&mut self, kind: &str, name: &str, state: &str, priority: u8) -> bool {
        let mut buf = [0u8; LINE_MAX];
        let len = format_line(&mut buf, kind, name, state, priority);
        let line = &buf[..len];
        loop {
            match rustix::io::write(&self.fd, line) {
                Ok(n) if n == line.len() => return true,
                Err(Errno::INTR) => continue,
                // A short write cannot happen on a pipe for a line under
                // PIPE_BUF; if it did, the reader got half a line: a drop.
                Ok(_) | Err(_) => {
                    self.dropped += 1;
                    return false;
                }
            }
        }
    }

    /// Lines dropped since opening.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The path the FIFO was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Formats the line into `buf`, returning its length. Only the name is
/// shortened to fit; if even the rest does not fit, the line is cut but still
/// ends with a newline, so a reader never sees two lines run together.
fn format_line(buf: &mut [u8; LINE_MAX], kind: &str, name: &str, state: &str, priority: u8) -> usize {
    let mut digits = [0u8; 3];
    let prio = u8_decimal(priority, &mut digits);
    // Everything but the name: KIND, ` "`, `" `, STATE, ` `, PRIO, `\n`.
    let fixed = kind.len() + 2 + 2 + state.len() + 1 + prio.len() + 1;
    let mut name_len = name.len().min(LINE_MAX.saturating_sub(fixed));
    while !name.is_char_boundary(name_len) {
        name_len -= 1;
    }
    let mut len = 0;
    // The last byte is kept for the newline.
    let body = LINE_MAX - 1;
    for part in [kind.as_bytes(), b" \"", &name.as_bytes()[..name_len], b"\" ", state.as_bytes(), b" ", prio] {
        let take = part.len().min(body - len);
        buf[len..len + take].copy_from_slice(&part[..take]);
        len += take;
    }
    buf[len] = b'\n';
    len + 1
}

/// `n` in decimal, without allocating.
fn u8_decimal(n: u8, out: &mut [u8; 3]) -> &[u8] {
    let (h, t, u) = (n / 100, n / 10 % 10, n % 10);
    *out = [b'0' + h, b'0' + t, b'0' + u];
    let skip = if h > 0 {
        0
    } else if t > 0 {
        1
    } else {
        2
    };
    &out[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sys::testkit::TempDir;

    fn reader(path: &Path) -> OwnedFd {
        rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty()).unwrap()
    }

    fn read_available(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(fd, &mut buf[..]) {
                Ok(0) | Err(Errno::AGAIN) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    #[test]
    fn open_creates_fifo_with_mode_0644() {
        let dir = TempDir::new("create");
        let p = dir.path("notify");
        let f = Fifo::open(&p, None).unwrap();
        let st = rustix::fs::stat(&p).unwrap();
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::Fifo);
        assert_eq!(st.st_mode & 0o7777, 0o644);
        assert_eq!(f.path(), p);
        drop(f);
        // Opening an existing FIFO leaves its mode alone.
        rustix::fs::chmod(&p, Mode::from_raw_mode(0o600)).unwrap();
        let _f = Fifo::open(&p, None).unwrap();
        assert_eq!(rustix::fs::stat(&p).unwrap().st_mode & 0o7777, 0o600);
    }

    #[test]
    fn open_chowns_to_owner_when_created() {
        let dir = TempDir::new("chown");
        let p = dir.path("notify");
        // Our own ids: allowed for any user, root or not.
        let (uid, gid) = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        let _f = Fifo::open(&p, Some((uid, gid))).unwrap();
        let st = rustix::fs::stat(&p).unwrap();
        assert_eq!((st.st_uid, st.st_gid), (uid, gid));
    }

    #[test]
    fn open_refuses_non_fifo() {
        let dir = TempDir::new("regular");
        let p = dir.path("file");
        std::fs::write(&p, b"").unwrap();
        let err = Fifo::open(&p, None).err().unwrap();
        assert!(err.contains(&*p.to_string_lossy()), "{err}");
        let err = Fifo::open(&dir.0, None).err().unwrap();
        assert!(err.contains("not a FIFO"), "{err}");
        let err = Fifo::open(&dir.path("nodir/fifo"), None).err().unwrap();
        assert!(err.contains("nodir"), "{err}");
    }

    #[test]
    fn lines_are_written_without_a_reader_and_read_back_whole() {
        let dir = TempDir::new("line");
        let p = dir.path("notify");
        let mut f = Fifo::open(&p, None).unwrap();
        // No reader is open: O_RDWR keeps the pipe writable.
        assert!(f.notify("INSTANCE", "VI_1", "MASTER", 150));
        let r = reader(&p);
        assert_eq!(read_available(&r), b"INSTANCE \"VI_1\" MASTER 150\n");
        assert!(f.notify("GROUP", "G1", "BACKUP", 0));
        assert!(f.notify("INSTANCE", "VI_2", "FAULT", 7));
        assert_eq!(read_available(&r), b"GROUP \"G1\" BACKUP 0\nINSTANCE \"VI_2\" FAULT 7\n");
        assert_eq!(f.dropped(), 0);
    }

    #[test]
    fn full_pipe_drops_and_counts_without_blocking() {
        let dir = TempDir::new("full");
        let p = dir.path("notify");
        let mut f = Fifo::open(&p, None).unwrap();
        let mut written = 0u64;
        // A default pipe holds 64 KiB (at most 1 MiB by default sysctl), so
        // this bound is never reached unless writes never fail.
        while f.notify("INSTANCE", "VI_1", "MASTER", 150) {
            written += 1;
            assert!(written < 1_000_000, "pipe never filled");
        }
        assert_eq!(f.dropped(), 1);
        assert!(!f.notify("INSTANCE", "VI_1", "BACKUP", 100));
        assert_eq!(f.dropped(), 2);
        // Only whole lines went in.
        let r = reader(&p);
        let data = read_available(&r);
        assert_eq!(data.len() as u64, written * b"INSTANCE \"VI_1\" MASTER 150\n".len() as u64);
        // Space again after the reader drained it.
        assert!(f.notify("GROUP", "G", "STOP", 0));
        assert_eq!(read_available(&r), b"GROUP \"G\" STOP 0\n");
    }

    #[test]
    fn long_names_are_cut_to_fit_one_line() {
        let mut buf = [0u8; LINE_MAX];
        let name = "é".repeat(LINE_MAX);
        let len = format_line(&mut buf, "INSTANCE", &name, "MASTER", 255);
        let line = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(len <= LINE_MAX);
        assert!(line.starts_with("INSTANCE \"é"));
        assert!(line.ends_with("\" MASTER 255\n"), "{line}");

        // Absurd kind/state: still one newline-terminated line.
        let huge = "K".repeat(2 * LINE_MAX);
        let len = format_line(&mut buf, &huge, "n", "S", 1);
        assert_eq!(len, LINE_MAX);
        assert_eq!(buf[len - 1], b'\n');
        assert_eq!(buf[..len - 1].iter().filter(|&&b| b == b'\n').count(), 0);

        for (n, s) in [(0u8, "0"), (9, "9"), (10, "10"), (99, "99"), (100, "100"), (255, "255")] {
            let len = format_line(&mut buf, "G", "x", "B", n);
            assert_eq!(&buf[..len], format!("G \"x\" B {s}\n").as_bytes());
        }
    }
}
