//! The physical floor of the `vrrp_probe` cost rows: the same checks (TCP
//! connects, or HTTP GETs with vipd's request and its 16-byte read) at the
//! same rate against the same nginx, from a bare loop of blocking
//! syscalls on one thread: no event loop, no timers, no bookkeeping, no
//! status. Its CPU is read the way vipd's is (utime + stime in /proc, here
//! of the thread), so it is what the kernel charges a prober for the TCP
//! work itself (handshake, the answer, the reset, loopback delivery in
//! softirq) and the distance between the two rows is what vipd adds.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// What the floor measured.
pub struct Floor {
    /// % of one core.
    pub cpu: f64,
    /// Checks that got their answer (HTTP status line, or the connect).
    pub answered: u64,
    /// Checks per second actually run.
    pub rate: f64,
}

/// Runs `rate` checks a second for `window` from a thread inside the
/// network namespace at `ns`, against 127.0.0.1:`port`.
pub fn measure(ns: &Path, port: u16, http: bool, rate: u32, window: Duration) -> Result<Floor, String> {
    let ns = fs::File::open(ns).map_err(|e| format!("{}: {e}", ns.display()))?;
    std::thread::scope(|s| s.spawn(|| run(&ns, port, http, rate, window)).join())
        .map_err(|_| "the floor thread panicked".to_owned())?
}

fn run(ns: &fs::File, port: u16, http: bool, rate: u32, window: Duration) -> Result<Floor, String> {
    super::advert_floor::enter(ns)?;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: vipd\r\nConnection: close\r\n\r\n";
    // SAFETY: gettid has no preconditions. /proc/TID/stat is the thread's.
    let tid = unsafe { libc::gettid() } as u32;
    // vipd's 100 probes at 100 ms fall due together: the floor runs them
    // as one batch per tick too (all connects and requests, then all
    // reads), so it sleeps once per batch, not once per check.
    let ticks = 10;
    let batch = (rate / ticks).max(1) as usize;
    let step = Duration::from_secs(1) / ticks;
    let (t0, c0) = (Instant::now(), super::cpu_ticks(tid));
    let (mut next, mut ran, mut answered) = (t0, 0u64, 0u64);
    let mut open = Vec::with_capacity(batch);
    while t0.elapsed() < window {
        open.extend((0..batch).filter_map(|_| connect(port, http.then_some(&request[..]))));
        ran += batch as u64;
        for fd in open.drain(..) {
            if !http || answer(&fd) {
                answered += 1;
            }
        }
        next += step;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    let (elapsed, c1) = (t0.elapsed().as_secs_f64(), super::cpu_ticks(tid));
    Ok(Floor { cpu: (c1 - c0) as f64 / super::clock_ticks() / elapsed * 100.0, answered, rate: ran as f64 / elapsed })
}

/// The first half of a check, as vipd's probe does it: connect (and send
/// the GET); the socket closes with a reset (SO_LINGER 0) when dropped.
fn connect(port: u16, request: Option<&[u8]>) -> Option<OwnedFd> {
    // SAFETY: plain socket calls on an fd this function owns; the buffers
    // outlive the calls that use them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return None;
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
        let len = size_of::<libc::linger>() as libc::socklen_t;
        libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, (&raw const linger).cast(), len);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be() },
            sin_zero: [0; 8],
        };
        let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) != 0 {
            return None;
        }
        if let Some(req) = request {
            if libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), libc::MSG_NOSIGNAL) != req.len() as isize {
                return None;
            }
        }
        Some(fd)
    }
}

/// The second half of an HTTP check: up to 16 bytes of the answer, a 2xx
/// status line.
fn answer(fd: &OwnedFd) -> bool {
    let mut buf = [0u8; 16];
    let mut have = 0;
    while have < 12 {
        // SAFETY: reads into the part of `buf` not filled yet.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf[have..].as_mut_ptr().cast(), buf.len() - have) };
        if n <= 0 {
            return false;
        }
        have += n as usize;
    }
    buf.starts_with(b"HTTP/1.") && buf[9] == b'2'
}
