//! Logging to the local syslog socket (`-S`), keepalived's `--log-facility`.
//!
//! One datagram per line, `<PRI>vipd[PID]: message`, formatted on the stack.
//! The timestamp is left to the receiver (rsyslog, syslog-ng and journald
//! all stamp lines on arrival), which spares vipd the time zone database.

use core::cell::RefCell;
use core::fmt::{self, Write as _};
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// The socket glibc's syslog(3) writes to.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// Severity `info`: vipd's lines are reports of events, as keepalived's.
const SEVERITY_INFO: u8 = 6;

/// LOG_LOCAL0 as a facility number (RFC 5424 §6.2.1).
const FACILITY_LOCAL0: u8 = 16;

/// Longer lines are cut; a datagram this size passes every syslog daemon.
const MAX_LINE: usize = 2048;

pub struct Syslog {
    path: PathBuf,
    sock: RefCell<Option<UnixDatagram>>,
    /// `<PRI>` for this facility at severity info.
    pri: u8,
    pid: u32,
}

impl Syslog {
    /// `facility` 0..=7 selects LOG_LOCAL0..LOG_LOCAL7. The socket is
    /// connected now, so a missing syslog daemon is reported at start.
    pub fn open(path: &Path, facility: u8) -> io::Result<Syslog> {
        if facility > 7 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the facility must be 0 to 7 (local0..local7)"));
        }
        let sock = connect(path)?;
        Ok(Syslog {
            path: path.to_owned(),
            sock: RefCell::new(Some(sock)),
            pri: (FACILITY_LOCAL0 + facility) * 8 + SEVERITY_INFO,
            pid: std::process::id(),
        })
    }

    /// Sends one line. Returns false when it could not be delivered (the
    /// caller then writes it to standard error, so nothing is lost).
    pub fn send(&self, args: fmt::Arguments<'_>) -> bool {
        let mut buf = LineBuf::empty();
        let _ = write!(buf, "<{}>vipd[{}]: ", self.pri, self.pid);
        let _ = buf.write_fmt(args);
        let line = &buf.bytes[..buf.len];
        let mut slot = self.sock.borrow_mut();
        if let Some(s) = slot.as_ref() {
            if s.send(line).is_ok() {
                return true;
            }
        }
        // The syslog daemon restarted (new socket) or is gone: one attempt
        // to reconnect per line keeps this cheap and self-healing.
        *slot = connect(&self.path).ok();
        slot.as_ref().is_some_and(|s| s.send(line).is_ok())
    }
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let s = UnixDatagram::unbound()?;
    s.connect(path)?;
    // A stuck syslog daemon must not stall the event loop: a full socket
    // fails the send instead.
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A fixed buffer that silently cuts what does not fit: a log line is
/// formatted here and leaves in one write, not one per `{}` piece.
pub struct LineBuf {
    bytes: [u8; MAX_LINE],
    len: usize,
}

impl LineBuf {
    pub fn empty() -> LineBuf {
        LineBuf { bytes: [0; MAX_LINE], len: 0 }
    }

    /// The line with its newline, which a cut line keeps too.
    pub fn terminated(&mut self) -> &[u8] {
        if self.len == MAX_LINE {
            self.len -= 1;
            while self.len > 0 && self.bytes[self.len] & 0xc0 == 0x80 {
                self.len -= 1;
            }
        }
        self.bytes[self.len] = b'\n';
        &self.bytes[..=self.len]
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_LINE - self.len;
        let mut n = s.len().min(room);
        // Cut on a character boundary so the line stays valid UTF-8.
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(name: &str) -> (PathBuf, UnixDatagram) {
        let path = std::env::temp_dir().join(format!("vipd-syslog-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).expect("bind");
        (path, rx)
    }

    #[test]
    fn a_cut_line_keeps_its_newline_and_whole_characters() {
        let mut short = LineBuf::empty();
        let name = "VI_1";
        let _ = write!(short, "({name}) up");
        assert_eq!(short.terminated(), b"(VI_1) up\n");
        let mut long = LineBuf::empty();
        let _ = write!(long, "{}", "\u{e9}".repeat(MAX_LINE));
        let line = long.terminated();
        assert_eq!(line.last(), Some(&b'\n'));
        assert!(line.len() <= MAX_LINE);
        assert!(core::str::from_utf8(line).is_ok_and(|s| s.trim_end().chars().all(|c| c == '\u{e9}')));
    }

    #[test]
    fn lines_carry_facility_severity_and_pid() {
        let (path, rx) = receiver("fmt");
        let log = Syslog::open(&path, 3).expect("open");
        assert!(log.send(format_args!("(VI_1) Entering {} STATE", "MASTER")));
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).expect("recv");
        // local3 = 19; 19 * 8 + 6 = 158.
        let want = format!("<158>vipd[{}]: (VI_1) Entering MASTER STATE", std::process::id());
        assert_eq!(core::str::from_utf8(&buf[..n]), Ok(want.as_str()));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn long_lines_are_cut_on_a_character_boundary() {
        let (path, rx) = receiver("long");
        let log = Syslog::open(&path, 0).expect("open");
        let long = "é".repeat(3000);
        assert!(log.send(format_args!("{long}")));
        let mut buf = [0u8; 8192];
        let n = rx.recv(&mut buf).expect("recv");
        assert!(n <= MAX_LINE && n > MAX_LINE - 4, "{n}");
        assert!(core::str::from_utf8(&buf[..n]).is_ok());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_restarted_receiver_is_reconnected_and_a_missing_one_reported() {
        let (path, rx) = receiver("restart");
        let log = Syslog::open(&path, 7).expect("open");
        drop(rx);
        assert!(!log.send(format_args!("lost")), "nobody listening");
        let (_, rx) = receiver("restart");
        assert!(log.send(format_args!("back")));
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).expect("recv");
        assert!(buf[..n].ends_with(b"back"));
        let _ = std::fs::remove_file(&path);
        assert!(Syslog::open(Path::new("/nonexistent/vipd-log"), 0).is_err());
        assert!(Syslog::open(&path, 8).is_err(), "facility out of range");
    }
}
