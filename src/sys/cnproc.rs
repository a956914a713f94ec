//! `vrrp_track_process`: which processes match each tracker, counted from
//! one scan of `/proc` and then kept current by the kernel's
//! process-events connector (fork, exec, comm, exit), with keepalived
//! 2.2.7's quorum and delay rules. No fork, no periodic scan: `/proc` is
//! read again only when the connector says events were lost.
//!
//! The connector only exists in the initial network namespace; when vipd
//! runs in another one (a container, `ip netns exec`), the socket is opened
//! there through `/proc/1/ns/net` and vipd returns to its own namespace.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::event::epoll;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, Protocol, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::config::{ParamMatch, TrackProcess};
use crate::time::{Duration, Instant};
use crate::wire::cnproc::{self, ProcEvent};

const NETLINK_CONNECTOR: u32 = 11;
/// Room for bursts of process events between two wake-ups.
const RCVBUF: usize = 1 << 20;
/// Bytes of `/proc/PID/cmdline` compared at most.
const CMDLINE_MAX: usize = 4096;
/// Trackers per daemon (a bit each in a process's mask).
pub const MAX_TRACKERS: usize = 64;

/// A tracker's verdict or count changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// Index in the `Watcher::new` list.
    pub index: usize,
    pub up: bool,
    pub count: u32,
}

struct Track {
    cfg: TrackProcess,
    count: u32,
    up: bool,
    /// Pending verdict change: when, and whether it was a fork's.
    pending: Option<(Instant, bool)>,
}

impl Track {
    fn in_quorum(&self) -> bool {
        self.count >= self.cfg.quorum && self.count <= self.cfg.quorum_max
    }
}

/// One tracker as the watcher sees it (the data file's process section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackView<'a> {
    pub cfg: &'a TrackProcess,
    pub count: u32,
    /// The verdict, after the delays.
    pub up: bool,
    pub fork_timer: bool,
    pub terminate_timer: bool,
}

/// The connector socket and the matching processes.
pub struct Watcher {
    /// Readable when events or an ended delay wait: holds `sock` and `timer`.
    ep: OwnedFd,
    sock: OwnedFd,
    /// Armed at the next delay's end.
    timer: OwnedFd,
    tracks: Vec<Track>,
    /// Matching processes, sorted by pid, with a bit per tracker.
    pids: Vec<(u32, u64)>,
    /// Last sequence number seen per CPU (u64::MAX: none yet).
    seqs: Vec<u64>,
    lost: bool,
    buf: Box<[u8]>,
}

fn connector_socket() -> io::Result<OwnedFd> {
    let s = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        Some(Protocol::from_raw(rustix::net::RawProtocol::new(NETLINK_CONNECTOR).ok_or(Errno::INVAL)?)),
    )?;
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&s, RCVBUF);
    rustix::net::bind(&s, &SocketAddrNetlink::new(0, cnproc::CN_IDX_PROC))?;
    let req = cnproc::listen_request(0);
    rustix::net::sendto(&s, &req, SendFlags::empty(), &SocketAddrNetlink::new(0, 0))?;
    Ok(s)
}

fn enter_netns(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor; vipd has a single thread,
    // so no other thread sees the namespace change in between.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The connector socket, opened in the initial network namespace if the
/// current one has no connector (ECONNREFUSED on subscribing): process 1's,
/// or the parent's when process 1's cannot be opened (a sandbox that hides
/// it; `ip netns exec` runs vipd with its caller as parent).
fn open_socket() -> io::Result<OwnedFd> {
    let first = match connector_socket() {
        Err(e) if e.raw_os_error() == Some(Errno::CONNREFUSED.raw_os_error()) => e,
        r => return r,
    };
    let own = std::fs::File::open("/proc/thread-self/ns/net")?;
    let parent = rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get());
    let mut last = first;
    for pid in [1, parent] {
        let Ok(ns) = std::fs::File::open(format!("/proc/{pid}/ns/net")) else { continue };
        if let Err(e) = enter_netns(ns.as_fd()) {
            last = e;
            continue;
        }
        let s = connector_socket();
        enter_netns(own.as_fd())
            .map_err(|e| io::Error::other(format!("cannot return to own network namespace: {e}")))?;
        match s {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl Watcher {
    /// Subscribes to process events, then scans `/proc` (in that order, so
    /// no process starting in between is missed).
    pub fn new(cfgs: &[TrackProcess]) -> io::Result<Watcher> {
        let sock = open_socket()?;
        let timer = rustix::time::timerfd_create(
            rustix::time::TimerfdClockId::Monotonic,
            rustix::time::TimerfdFlags::NONBLOCK | rustix::time::TimerfdFlags::CLOEXEC,
        )?;
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        for (fd, k) in [(sock.as_fd(), 0), (timer.as_fd(), 1)] {
            epoll::add(&ep, fd, epoll::EventData::new_u64(k), epoll::EventFlags::IN)?;
        }
        let tracks = cfgs
            .iter()
            .take(MAX_TRACKERS)
            .map(|c| Track { cfg: c.clone(), count: 0, up: false, pending: None })
            .collect();
        let mut w = Watcher {
            ep,
            sock,
            timer,
            tracks,
            pids: Vec::new(),
            seqs: Vec::new(),
            lost: false,
            buf: vec![0u8; 4096].into_boxed_slice(),
        };
        w.scan();
        for t in &mut w.tracks {
            t.up = t.in_quorum();
        }
        Ok(w)
    }

    /// Readable when [`Watcher::poll`] has something to do.
    /// Tracker `index` of the `Watcher::new` list.
    pub fn view(&self, index: usize) -> Option<TrackView<'_>> {
        let t = self.tracks.get(index)?;
        Some(TrackView {
            cfg: &t.cfg,
            count: t.count,
            up: t.up,
            fork_timer: matches!(t.pending, Some((_, true))),
            terminate_timer: matches!(t.pending, Some((_, false))),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ep.as_fd()
    }

    /// Arms the timer at the next pending delay's end (disarms it without).
    fn arm(&self) {
        let next = self.tracks.iter().filter_map(|t| t.pending.map(|p| p.0)).min();
        let us = next.map_or(0, |t| t.as_micros().max(1));
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: rustix::time::Timespec {
                tv_sec: (us / 1_000_000) as i64,
                tv_nsec: (us % 1_000_000 * 1000) as i64,
            },
        };
        // A failure leaves the delay to end with the next event.
        let _ = rustix::time::timerfd_settime(&self.timer, rustix::time::TimerfdTimerFlags::ABSTIME, &spec);
    }

    /// Reads every queued event, runs expired delays, re-scans after lost
    /// events; calls `out` for each tracker whose count or verdict changed
    /// (`all`: for every tracker).
    pub fn poll(&mut self, now: Instant, all: bool, out: &mut dyn FnMut(Change)) {
        let before: Vec<(u32, bool)> =
            self.tracks.iter().map(|t| if all { (u32::MAX, false) } else { (t.count, t.up) }).collect();
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
        self.drain(now);
        if self.lost {
            self.lost = false;
            self.rescan(now);
        }
        for t in &mut self.tracks {
            if let Some((at, _)) = t.pending {
                if at <= now {
                    t.pending = None;
                    t.up = t.in_quorum();
                }
            }
        }
        for (index, (t, b)) in self.tracks.iter().zip(before).enumerate() {
            if (t.count, t.up) != b {
                out(Change { index, up: t.up, count: t.count });
            }
        }
        self.arm();
    }

    fn drain(&mut self, now: Instant) {
        // Bounded so a fork storm cannot hold the loop; the socket stays
        // readable and the loop comes back.
        for _ in 0..256 {
            let n = match rustix::net::recvfrom(&self.sock, &mut self.buf[..], RecvFlags::empty()) {
                Ok((n, _, from)) => {
                    let kernel = from.and_then(|a| SocketAddrNetlink::try_from(a).ok()).is_some_and(|a| a.pid() == 0);
                    if !kernel {
                        continue;
                    }
                    n
                }
                Err(Errno::INTR) => continue,
                Err(Errno::NOBUFS) => {
                    self.lost = true;
                    continue;
                }
                Err(_) => return,
            };
            let Some(r) = cnproc::parse(&self.buf[..n]) else { continue };
            self.note_seq(r.cpu, r.seq);
            match r.event {
                ProcEvent::Fork { parent, child } => self.fork(now, parent, child),
                ProcEvent::Exec { pid } => self.check(now, pid, None),
                ProcEvent::Comm { pid, comm } => {
                    let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
                    self.check(now, pid, Some(&comm[..end]));
                }
                ProcEvent::Exit { pid } => self.exit(now, pid),
                ProcEvent::Ack { .. } | ProcEvent::Other => {}
            }
        }
    }

    fn note_seq(&mut self, cpu: u32, seq: u32) {
        let cpu = cpu as usize;
        if cpu >= 4096 {
            return;
        }
        if self.seqs.len() <= cpu {
            self.seqs.resize(cpu + 1, u64::MAX);
        }
        let last = self.seqs[cpu];
        if last != u64::MAX && u64::from(seq) != (last + 1) & u64::from(u32::MAX) {
            self.lost = true;
        }
        self.seqs[cpu] = u64::from(seq);
    }

    fn mask_of(&self, pid: u32) -> u64 {
        self.pids.binary_search_by_key(&pid, |p| p.0).map_or(0, |k| self.pids[k].1)
    }

    fn set_mask(&mut self, pid: u32, mask: u64) {
        match self.pids.binary_search_by_key(&pid, |p| p.0) {
            Ok(k) if mask == 0 => {
                self.pids.remove(k);
            }
            Ok(k) => self.pids[k].1 = mask,
            Err(k) if mask != 0 => self.pids.insert(k, (pid, mask)),
            Err(_) => {}
        }
    }

    /// One more matching process for tracker `i`; `fork` selects
    /// `fork_delay` (an exec or rename takes effect at once).
    fn gained(&mut self, now: Instant, i: usize, fork: bool) {
        let t = &mut self.tracks[i];
        t.count = t.count.saturating_add(1);
        if t.count != t.cfg.quorum && t.count != t.cfg.quorum_max.saturating_add(1) {
            return;
        }
        match t.pending {
            // A pending terminate delay: the process came back in time.
            Some((_, false)) => t.pending = None,
            _ if fork && t.cfg.fork_delay > Duration::ZERO => {
                t.pending = Some((now + t.cfg.fork_delay, true));
                return;
            }
            _ => {}
        }
        t.up = t.in_quorum();
    }

    /// One matching process fewer; `exit` selects `terminate_delay`.
    fn lost_one(&mut self, now: Instant, i: usize, exit: bool) {
        let t = &mut self.tracks[i];
        let was = t.count;
        t.count = t.count.saturating_sub(1);
        if was != t.cfg.quorum && t.count != t.cfg.quorum_max {
            return;
        }
        match t.pending {
            Some((_, true)) => t.pending = None,
            _ if exit && t.cfg.terminate_delay > Duration::ZERO => {
                t.pending = Some((now + t.cfg.terminate_delay, false));
                return;
            }
            _ => {}
        }
        t.up = t.in_quorum();
    }

    fn fork(&mut self, now: Instant, parent: u32, child: u32) {
        let mask = self.mask_of(parent);
        if mask == 0 {
            return;
        }
        self.set_mask(child, mask);
        for i in bits(mask) {
            self.gained(now, i, true);
        }
    }

    fn exit(&mut self, now: Instant, pid: u32) {
        let mask = self.mask_of(pid);
        self.set_mask(pid, 0);
        for i in bits(mask) {
            self.lost_one(now, i, true);
        }
    }

    /// After an exec (`comm` None: read /proc) or a rename (`comm` given:
    /// only name-matched trackers are re-evaluated).
    fn check(&mut self, now: Instant, pid: u32, comm: Option<&[u8]>) {
        let old = self.mask_of(pid);
        let info = match comm {
            Some(c) => ProcInfo { comm: c.to_vec(), cmdline: None },
            None => match read_proc(pid, self.need_cmdline()) {
                Some(i) => i,
                None => return,
            },
        };
        let mut new = 0u64;
        for (i, t) in self.tracks.iter().enumerate() {
            let bit = 1u64 << i;
            let m = if comm.is_some() && t.cfg.full_command { old & bit != 0 } else { matches(&t.cfg, &info) };
            if m {
                new |= bit;
            }
        }
        self.set_mask(pid, new);
        for i in bits(old & !new) {
            self.lost_one(now, i, false);
        }
        for i in bits(new & !old) {
            self.gained(now, i, false);
        }
    }

    fn need_cmdline(&self) -> bool {
        self.tracks.iter().any(|t| t.cfg.full_command)
    }

    /// Counts every matching process from scratch.
    fn scan(&mut self) {
        self.pids.clear();
        for t in &mut self.tracks {
            t.count = 0;
        }
        let cmdline = self.need_cmdline();
        let Ok(dir) = std::fs::read_dir("/proc") else { return };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Some(info) = read_proc(pid, cmdline) else { continue };
            let mut mask = 0u64;
            for (i, t) in self.tracks.iter_mut().enumerate() {
                if matches(&t.cfg, &info) {
                    mask |= 1 << i;
                    t.count += 1;
                }
            }
            self.set_mask(pid, mask);
        }
    }

    /// After lost events: a fresh count, then keepalived's delays for the
    /// verdicts it changes.
    fn rescan(&mut self, now: Instant) {
        self.seqs.clear();
        self.scan();
        for t in &mut self.tracks {
            t.pending = None;
            let q = t.in_quorum();
            if q == t.up {
                continue;
            }
            let delay = if q { t.cfg.fork_delay } else { t.cfg.terminate_delay };
            if delay > Duration::ZERO {
                t.pending = Some((now + delay, q));
            } else {
                t.up = q;
            }
        }
    }
}

fn bits(mask: u64) -> impl Iterator<Item = usize> {
    (0..MAX_TRACKERS).filter(move |i| mask & (1 << i) != 0)
}

struct ProcInfo {
    comm: Vec<u8>,
    /// `/proc/PID/cmdline` (NUL-separated), when a tracker needs it.
    cmdline: Option<Vec<u8>>,
}

/// Up to `buf.len()` bytes of `/proc/PID/FILE`.
fn read_file<'b>(pid: u32, file: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let path = format!("/proc/{pid}/{file}");
    let fd = rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::read(&fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..n])
}

/// A live (not zombie) process's name and, if asked, command line.
fn read_proc(pid: u32, cmdline: bool) -> Option<ProcInfo> {
    // The name is at most 64 bytes (kernel threads' too), so its closing
    // parenthesis and the state follow within this much.
    let mut sbuf = [0u8; 96];
    let stat = read_file(pid, "stat", &mut sbuf)?;
    // "PID (comm) S ...": comm may itself hold ')' or spaces.
    let open = stat.iter().position(|&c| c == b'(')?;
    let close = stat.iter().rposition(|&c| c == b')')?;
    if stat.get(close + 2) == Some(&b'Z') || close < open {
        return None;
    }
    let comm = stat[open + 1..close].to_vec();
    let cmdline = if cmdline {
        let mut c = vec![0u8; CMDLINE_MAX];
        let n = read_file(pid, "cmdline", &mut c)?.len();
        c.truncate(n);
        Some(c)
    } else {
        None
    };
    Some(ProcInfo { comm, cmdline })
}

/// keepalived's comparison: the name (or `argv[0]` with `full_command`)
/// exactly, then the parameters as `param_match` says.
fn matches(cfg: &TrackProcess, p: &ProcInfo) -> bool {
    let (name, params): (&[u8], &[u8]) = if cfg.full_command {
        let Some(c) = p.cmdline.as_deref() else { return false };
        match c.iter().position(|&b| b == 0) {
            Some(end) => (&c[..end], &c[end + 1..]),
            None => (c, &[]),
        }
    } else {
        (&p.comm, &[])
    };
    if name != cfg.process.as_bytes() {
        return false;
    }
    params_match(cfg, params)
}

fn params_match(cfg: &TrackProcess, params: &[u8]) -> bool {
    let want = cfg.params.as_slice();
    match cfg.param_match {
        ParamMatch::None => true,
        ParamMatch::Exact => params == want,
        _ if want.is_empty() => true,
        _ if params.len() < want.len() => false,
        ParamMatch::Partial => params.starts_with(want),
        ParamMatch::Initial => params.starts_with(&want[..want.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(process: &str, params: &[&str], pm: ParamMatch) -> TrackProcess {
        let mut p = Vec::new();
        for a in params {
            p.extend_from_slice(a.as_bytes());
            p.push(0);
        }
        TrackProcess {
            process: process.into(),
            params: p,
            param_match: pm,
            full_command: pm != ParamMatch::None,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay: crate::time::Duration::ZERO,
            terminate_delay: crate::time::Duration::ZERO,
        }
    }

    /// A watcher over `cfgs` without the connector (any fds will do): the
    /// counting and delays are driven by calling the event handlers.
    fn watcher(cfgs: &[TrackProcess]) -> Watcher {
        let fd = || rustix::io::dup(std::io::stdin().as_fd()).unwrap();
        Watcher {
            ep: fd(),
            sock: fd(),
            timer: fd(),
            tracks: cfgs.iter().map(|c| Track { cfg: c.clone(), count: 0, up: false, pending: None }).collect(),
            pids: Vec::new(),
            seqs: Vec::new(),
            lost: false,
            buf: Box::new([]),
        }
    }

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    /// Runs the delays due at `now`, as `poll` does; the verdict.
    fn up(w: &mut Watcher, now: Instant) -> bool {
        let t = &mut w.tracks[0];
        if t.pending.is_some_and(|p| p.0 <= now) {
            t.pending = None;
            t.up = t.in_quorum();
        }
        t.up
    }

    #[test]
    fn quorum_and_forks() {
        let mut c = cfg("x", &[], ParamMatch::None);
        (c.quorum, c.quorum_max) = (2, 3);
        let mut w = watcher(&[c]);
        w.set_mask(10, 1);
        w.gained(at(0), 0, false);
        assert!(!up(&mut w, at(0)), "1 of quorum 2");
        w.fork(at(1), 10, 11);
        w.fork(at(1), 10, 12);
        assert_eq!(w.tracks[0].count, 3);
        assert!(up(&mut w, at(1)));
        w.fork(at(2), 99, 13);
        assert_eq!(w.tracks[0].count, 3, "an untracked parent's child is not counted");
        w.fork(at(2), 11, 14);
        assert!(!up(&mut w, at(2)), "4 > quorum_max");
        w.exit(at(3), 14);
        w.exit(at(3), 14);
        assert_eq!(w.tracks[0].count, 3, "one exit per process");
        assert!(up(&mut w, at(3)));
        w.exit(at(4), 10);
        w.exit(at(4), 11);
        assert!(!up(&mut w, at(4)));
        assert!(w.pids.iter().all(|p| p.0 == 12));
    }

    #[test]
    fn delays() {
        let mut c = cfg("x", &[], ParamMatch::None);
        (c.fork_delay, c.terminate_delay) =
            (crate::time::Duration::from_millis(100), crate::time::Duration::from_millis(500));
        let mut w = watcher(&[c]);
        w.set_mask(10, 1);
        w.gained(at(0), 0, false);
        assert!(up(&mut w, at(0)), "an exec takes effect at once");
        // Exit, back within terminate_delay (an exec): no change at all.
        w.exit(at(1000), 10);
        assert!(up(&mut w, at(1200)));
        w.set_mask(20, 1);
        w.gained(at(1300), 0, false);
        assert!(up(&mut w, at(2000)));
        assert_eq!(w.tracks[0].pending, None);
        // Exit for longer: down once the delay ends.
        w.exit(at(3000), 20);
        assert!(up(&mut w, at(3499)));
        assert!(!up(&mut w, at(3500)));
    }

    #[test]
    fn fork_delay() {
        let mut c = cfg("x", &[], ParamMatch::None);
        c.quorum = 2;
        c.fork_delay = crate::time::Duration::from_millis(100);
        let mut w = watcher(&[c]);
        w.set_mask(10, 1);
        w.gained(at(0), 0, false);
        // A fork reaching the quorum counts after fork_delay only…
        w.fork(at(1000), 10, 11);
        assert!(!up(&mut w, at(1099)));
        assert!(up(&mut w, at(1100)));
        // …and a child that exits (or execs) within it never brings it up.
        w.exit(at(2000), 11);
        assert!(!up(&mut w, at(2000)));
        w.fork(at(3000), 10, 12);
        w.exit(at(3050), 12);
        assert!(!up(&mut w, at(3200)));
        assert_eq!(w.tracks[0].pending, None);
    }
    fn proc_(comm: &str, cmdline: &[u8]) -> ProcInfo {
        ProcInfo { comm: comm.as_bytes().to_vec(), cmdline: Some(cmdline.to_vec()) }
    }

    #[test]
    fn matching() {
        let p = proc_("nginx", b"/usr/sbin/nginx\0-g\0daemon off;\0");
        assert!(matches(&cfg("nginx", &[], ParamMatch::None), &p));
        assert!(!matches(&cfg("ngin", &[], ParamMatch::None), &p), "exact names, not pgrep's regex");
        assert!(matches(&cfg("/usr/sbin/nginx", &["-g", "daemon off;"], ParamMatch::Exact), &p));
        assert!(!matches(&cfg("/usr/sbin/nginx", &["-g"], ParamMatch::Exact), &p));
        assert!(matches(&cfg("/usr/sbin/nginx", &["-g"], ParamMatch::Partial), &p));
        assert!(!matches(&cfg("/usr/sbin/nginx", &["-g", "daemon"], ParamMatch::Partial), &p));
        assert!(matches(&cfg("/usr/sbin/nginx", &["-g", "daemon"], ParamMatch::Initial), &p));
        // `param_match` alone: the command must have no parameters.
        assert!(!matches(&cfg("/usr/sbin/nginx", &[], ParamMatch::Exact), &p));
        assert!(matches(&cfg("/usr/sbin/nginx", &[], ParamMatch::Exact), &proc_("nginx", b"/usr/sbin/nginx\0")));
    }
}
