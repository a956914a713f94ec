//! The benchmark (`scripts/bench`): vipd and keepalived 2.2.7 side by side in
//! the namespace lab of `tests/netns/lab.rs`, against the performance budget
//! of design.md. One `#[ignore]`d test, so `cargo test` skips it; run it with
//!
//! ```text
//! cargo test --release --test bench -- --ignored --nocapture --test-threads=1
//! ```
//!
//! as root (scripts/bench does, after building the release and static
//! binaries). It measures, for both daemons:
//!
//! - the outage a client pinging the VIP every 5 ms sees when the master's
//!   cable is pulled and when the master stops gracefully (SIGTERM), at
//!   VRRPv2 1 s and VRRPv3 10 ms adverts (R1 priority 150, R2 100; several
//!   trials, median): the longest time between replies, as the lab measures
//!   it, so in steps of 5 ms;
//! - CPU (% of one core, utime + stime over a window) and resident memory of
//!   master and backup with 1 and 50 instances at 10 ms and 255 at 1 s
//!   (keepalived: parent and VRRP child summed); for 50, the master's floor
//!   (`bench/advert_floor.rs`);
//! - the largest gap between the master's adverts at 10 ms: idle, while it
//!   runs 200 check scripts a second, and while 50 checks hang until their
//!   timeout (kernel receive time stamps on the master's switch port; the
//!   script rows 5 runs each, the largest gap of all counting), beside the
//!   floor of as many runs of a bare SCHED_RR sender among the same
//!   processes (`bench/gap_floor.rs`);
//! - false failovers of a 10 ms pair while 32 busy loops load every core;
//! - `vipd status --json` on a 255-instance master: answer time, and CPU at
//!   100 queries a second; the advert gap at 10 ms while 50 clients ask
//!   the control socket and `/metrics` as fast as they can;
//! - a flood of 50,000 lower-priority adverts a second from a third host at
//!   a 100 ms master: what the master sends (adverts, ARPs) against its
//!   idle rate, its largest advert gap, and the backup's takeovers;
//! - a flood of 20,000 gratuitous ARPs a second claiming a 10 ms master's
//!   VIP: the master's CPU (vipd reads them, keepalived does not) and its
//!   largest advert gap;
//! - the largest gap between a 50 ms master's adverts over a SIGHUP (issue
//!   12): 1,000 instances with one changed, 40,000 excluded addresses
//!   added, 40,000 `virtual_ipaddress` lines (vipd refuses them), and the
//!   backup's takeovers meanwhile;
//! - `vrrp_probe`: the time from nginx stopping to the VIP on the backup,
//!   vipd's 100 ms probe next to keepalived's 1 s `curl` script, and the
//!   CPU and processes started of 100 probes at 100 ms;
//! - process killed → VIP on the peer: vipd's `vrrp_track_process` against
//!   keepalived's `killall -0` script every second (keepalived's own
//!   track_process cannot subscribe inside a network namespace);
//! - a 10 ms v3 master upgraded in place 10 times (`vipd upgrade`, issue
//!   14) against keepalived restarted (SIGTERM, then started again): the
//!   master's largest advert gap, the client's outages (pinging every
//!   5 ms), and the backup's takeovers;
//! - the cable-pull outage at 10 ms without and with `use_vmac` (section
//!   `vmac`, tests/bench/vmac.rs);
//! - e-mail alerts: a 10 ms master's largest advert gap while its alerts
//!   hang on an SMTP server that never answers (tests/bench/smtp.rs);
//! - `scale`: 1,000 instances at 1 s and 100 ms (tests/bench/scale.rs);
//! - binary size and shared libraries, and (vipd) heap allocations per
//!   advert through `scripts/alloc-check`.
//!
//! The markdown table goes to `$VIPD_BENCH_OUT` if set, else to stdout;
//! progress goes to stderr. Environment:
//!
//! - `VIPD_BENCH_QUICK=1`: one trial, short windows (for development).
//! - `VIPD_BENCH_TRIALS=N`: N trials per outage measurement.
//! - `VIPD_BENCH_PAUSE=N`: `scale` holds its settled daemons N s before
//!   measuring, their pids on stderr (to profile them from outside).
//! - `VIPD_BENCH_ONLY=outage,footprint,gap,load,flood,arpflood,status,reload,probe,trackproc,vmac,upgrade,smtp,scale,size,alloc`: run only these
//!   sections (`outage-v2`, `outage-v3`: one protocol's outages).
//! - `VIPD_BENCH_BIN`: the vipd binary every row measures (scripts/bench
//!   passes the static musl one; default: the lab's, the release build
//!   cargo made for this test); `VIPD_BENCH_BIN_NOTE`: a note on it for the
//!   size row.
//! - `VIPD_BENCH_OUT`, `VIPD_BENCH_START` (Unix seconds): where the table
//!   goes, when scripts/bench started (for the total run time).
//! - `VIPD_NETNS_KEEP=1`: keep the labs' configs and logs (tests/netns.rs).

// The lab serves tests/netns.rs too: what only that suite uses is unused here.
#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "netns/inject.rs"]
#[allow(dead_code)]
mod inject;

#[path = "bench/advert_floor.rs"]
mod advert_floor;
#[path = "bench/gap_floor.rs"]
mod gap_floor;

#[path = "bench/probe_floor.rs"]
mod probe_floor;

#[path = "netns/nginx.rs"]
#[allow(dead_code)]
mod nginx;

#[path = "bench/vmac.rs"]
mod vmac;

#[path = "bench/scale.rs"]
mod scale;
#[path = "bench/smtp.rs"]
mod smtp;

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Kind, Lab, Router, Vrrp};

const MASTER: &str = "Entering MASTER STATE";
const BACKUP: &str = "Entering BACKUP STATE";
const INIT: &str = "Entering BACKUP STATE (init)";
const FAULT: &str = "Entering FAULT STATE";

/// How long to wait for many instances to come up.
const STARTUP: Duration = Duration::from_secs(30);

/// How much of everything to do.
struct Plan {
    /// Trials per outage measurement (median reported): VRRPv2 1 s, and
    /// VRRPv3 10 ms (cheap, and in 5 ms steps: more of them).
    trials: usize,
    trials_v3: usize,
    /// CPU and memory sampling window.
    window: Duration,
    /// Advert capture under check scripts.
    capture: Duration,
    /// How long the busy loops run.
    load: Duration,
    /// Runs of each check-script gap row.
    gap_runs: usize,
    only: Option<Vec<String>>,
}

impl Plan {
    fn from_env() -> Plan {
        let quick = std::env::var_os("VIPD_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
        let only = std::env::var("VIPD_BENCH_ONLY").ok().filter(|s| !s.is_empty());
        let only = only.map(|s| s.split(',').map(|w| w.trim().to_owned()).collect());
        let trials = std::env::var("VIPD_BENCH_TRIALS").ok().and_then(|t| t.parse().ok()).filter(|&t| t > 0);
        let s = Duration::from_secs;
        let (v2, v3, window, capture, load) = if quick { (1, 1, s(3), s(3), s(5)) } else { (3, 5, s(10), s(8), s(30)) };
        let (trials, trials_v3) = (trials.unwrap_or(v2), trials.unwrap_or(v3));
        let gap_runs = if quick { 1 } else { 5 };
        Plan { trials, trials_v3, window, capture, load, gap_runs, only }
    }

    fn runs(&self, section: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|w| w == section))
    }
}

/// One row of the table.
struct Row {
    measure: String,
    keepalived: String,
    vipd: String,
    target: String,
    /// vipd against the target: None where there is no target or no figure.
    met: Option<bool>,
}

/// The rows so far and the measurements that failed.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    failed: Vec<String>,
    /// Budget lines vipd missed.
    missed: Vec<String>,
}

impl Report {
    fn row(&mut self, measure: &str, keepalived: String, vipd: String, target: &str, met: Option<bool>) {
        eprintln!("bench: | {measure} | {keepalived} | {vipd} | {target} | {} |", verdict(met));
        if met == Some(false) {
            self.missed.push(format!("{measure}: {vipd}, target {target}"));
        }
        let r = Row { measure: measure.to_owned(), keepalived, vipd, target: target.to_owned(), met };
        self.rows.push(r);
    }

    /// Runs one measurement; a panic (a lab assertion, a daemon that did
    /// not start) is reported on stderr and recorded, and the benchmark
    /// goes on. The lab's guard has cleaned up by then.
    fn attempt<T>(&mut self, what: &str, f: impl FnOnce() -> T) -> Option<T> {
        eprintln!("bench: {what} ...");
        let t0 = Instant::now();
        match std::panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => {
                eprintln!("bench: {what}: {:.1} s", t0.elapsed().as_secs_f64());
                Some(v)
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
                    .unwrap_or("panic");
                let first = msg.lines().next().unwrap_or_default();
                eprintln!("bench: {what}: FAILED: {first}");
                self.failed.push(format!("{what}: {first}"));
                None
            }
        }
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        VIPD => "vipd",
        KA => "keepalived",
    }
}

fn router_name(r: Router) -> &'static str {
    match r {
        R1 => "r1",
        R2 => "r2",
        Router::R3 => "r3",
    }
}

/// A lab with the names the lab gives its namespaces (`vipd-<pid>-<test>-X`,
/// see lab.rs), for the processes this file starts in them.
struct Bench {
    lab: Lab,
    test: String,
    /// The pid file of the daemon last started on R1 and on R2.
    pid_files: [Option<PathBuf>; 2],
}

/// The vipd binary to measure when it is not the lab's (`VIPD_BENCH_BIN`:
/// the static one scripts/bench builds).
fn vipd_bin() -> Option<String> {
    std::env::var("VIPD_BENCH_BIN").ok().filter(|b| !b.is_empty() && b != env!("CARGO_BIN_EXE_vipd"))
}

impl Bench {
    fn new(test: &str, net: u8) -> Bench {
        assert!(!lab::keepalived_only(), "the benchmark does not run with VIPD_NETNS_KEEPALIVED_ONLY");
        let lab = Lab::new(test, net).unwrap_or_else(|| panic!("{test}: cannot build the lab"));
        Bench { lab, test: test.to_owned(), pid_files: [None, None] }
    }

    fn ns(&self, host: &str) -> String {
        format!("vipd-{}-{}-{host}", std::process::id(), self.test)
    }

    fn dir(&self) -> PathBuf {
        self.lab.dir().to_path_buf()
    }

    /// Starts `kind` on `r` with `conf`; vipd from [`vipd_bin`] if set
    /// (through the lab's wrapper: a shell that execs it in the lab
    /// binary's place, same pid).
    fn start(&mut self, r: Router, kind: Kind, conf: &str) -> Daemon {
        self.start_with(r, kind, conf, &[])
    }

    /// As `start`, with extra arguments for the daemon.
    fn start_with(&mut self, r: Router, kind: Kind, conf: &str, extra: &[&str]) -> Daemon {
        let slot = usize::from(r == R2);
        match (kind, vipd_bin()) {
            (VIPD, Some(bin)) => {
                // sh -c SCRIPT sh BIN EXTRA... -- LAB'S-VIPD LAB'S-ARGS...
                let script = "bin=$1; shift; extra=; while [ \"$1\" != -- ]; do extra=\"$extra $1\"; shift; done; \
                              shift 2; exec \"$bin\" \"$@\" $extra";
                let mut wrapper = vec!["sh", "-c", script, "sh", &bin];
                wrapper.extend_from_slice(extra);
                wrapper.push("--");
                let d = self.lab.start_vipd_wrapped(r, conf, &wrapper);
                self.pid_files[slot] = Some(self.dir().join("run").join(format!("{}.pid", router_name(r))));
                d
            }
            _ => {
                self.pid_files[slot] = Some(self.lab.pid_file(r, kind));
                self.lab.start_conf(r, kind, conf, extra)
            }
        }
    }

    /// The control socket of vipd on `r`, wherever `start` put it.
    fn control_path(&self, r: Router) -> PathBuf {
        match vipd_bin() {
            Some(_) => self.dir().join("run").join(format!("{}.sock", router_name(r))),
            None => self.lab.control_path(r),
        }
    }

    /// Starts `kind` on `r` with the lab's configuration for `v`.
    fn start_vrrp(&mut self, r: Router, kind: Kind, v: &Vrrp) -> Daemon {
        let conf = self.lab.config(r, v);
        self.start(r, kind, &conf)
    }

    /// The daemon on `r` and its children (keepalived's VRRP child).
    fn pids(&self, r: Router) -> Vec<u32> {
        let file = self.pid_files[usize::from(r == R2)].as_ref().expect("a daemon started on the router");
        let pid: u32 = fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no pid in {}", file.display()));
        let mut pids = vec![pid];
        let mut i = 0;
        while i < pids.len() {
            let p = pids[i];
            for task in fs::read_dir(format!("/proc/{p}/task")).into_iter().flatten().flatten() {
                let kids = fs::read_to_string(task.path().join("children")).unwrap_or_default();
                pids.extend(kids.split_whitespace().filter_map(|k| k.parse::<u32>().ok()));
            }
            i += 1;
        }
        pids
    }

    /// Waits until `d`'s log holds `n` lines containing `pat` in all.
    fn wait_count(&self, d: Daemon, pat: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let have = self.lab.log(d).matches(pat).count();
            if have >= n {
                return;
            }
            let status = || self.lab.status();
            assert!(Instant::now() < deadline, "{}: {have} of {n} `{pat}` within {timeout:?}\n{}", self.test, status());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

// ---------------------------------------------------------------- processes

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a pid this file started (or found by its marker).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Processes this file starts besides the lab's: SIGKILLed and reaped on
/// drop, on panic too.
#[derive(Default)]
struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, mut cmd: Command) {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        self.0.push(cmd.spawn().unwrap_or_else(|e| panic!("start {cmd:?}: {e}")));
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if c.try_wait().ok().flatten().is_none() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// Processes whose argv contains `marker` (the hanging check scripts).
fn procs_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let argv = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            argv.split(|&b| b == 0).any(|a| a.starts_with(marker.as_bytes()))
        })
        .collect()
}

/// Kills whatever still carries `marker` on drop: check scripts a daemon
/// left behind.
struct Sweep(String);

impl Drop for Sweep {
    fn drop(&mut self) {
        for pid in procs_with(&self.0) {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// utime + stime (clock ticks) of a process, all its threads.
fn cpu_ticks(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else { return 0 };
    // After the command: state is field 3; utime and stime are 14 and 15.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

fn rss_kib(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

// ------------------------------------------------------------------ pinger

/// The client's pinger: ICMP echo requests to the VIP every 5 ms from a
/// thread in the client's namespace, reply times from the kernel's receive
/// time stamps. Not iputils' `ping -i 0.005`: with replies outstanding it
/// waits 10 ms (MIN_INTERVAL_MS) between probes, so during an outage it
/// probes every 10 ms and the outages it shows come in 10 ms steps.
struct Ping {
    stop: Arc<AtomicBool>,
    /// Reply times, Unix seconds.
    replies: Arc<Mutex<Vec<f64>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const PING_INTERVAL: Duration = Duration::from_millis(5);

impl Ping {
    fn replies(&self) -> Vec<f64> {
        self.replies.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Stops the thread; its panic, if it had one, goes on here.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            if let Err(e) = t.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(e);
                }
            }
        }
    }
}

impl Drop for Ping {
    fn drop(&mut self) {
        self.finish();
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Starts the client pinging the VIP every 5 ms; waits for 20 replies.
fn start_ping(b: &Bench, n: usize) -> Ping {
    let ns = PathBuf::from(format!("/run/netns/{}", b.ns("c")));
    let vip: std::net::Ipv4Addr = b.lab.vip().parse().expect("the VIP");
    let (stop, replies) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
    let (s, r) = (stop.clone(), replies.clone());
    let id = (std::process::id() as u16) ^ (n as u16).rotate_left(8);
    let thread = std::thread::spawn(move || pinger(&ns, vip, id, &s, &r));
    let mut p = Ping { stop, replies, thread: Some(thread) };
    let deadline = Instant::now() + lab::TIMEOUT;
    while p.replies().len() < 20 {
        if p.thread.as_ref().is_some_and(|t| t.is_finished()) {
            p.finish();
        }
        assert!(Instant::now() < deadline, "the client cannot ping {}\n{}", b.lab.vip(), b.lab.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// As the lab's `stop_ping`: waits for 20 replies after now, stops the ping
/// and returns the longest time without a reply ending after `since`.
fn stop_ping(b: &Bench, mut p: Ping, since: SystemTime) -> Duration {
    let now = unix_secs(SystemTime::now());
    let deadline = Instant::now() + lab::TIMEOUT;
    while p.replies().iter().filter(|&&t| t > now).count() < 20 {
        assert!(Instant::now() < deadline, "the client lost {} for good\n{}", b.lab.vip(), b.lab.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    p.finish();
    let since = unix_secs(since);
    let t = p.replies();
    let gap = t.windows(2).filter(|w| w[1] >= since).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    Duration::from_secs_f64(gap)
}

/// The Internet checksum.
fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pinger(ns: &Path, dst: std::net::Ipv4Addr, id: u16, stop: &AtomicBool, replies: &Mutex<Vec<f64>>) {
    let netns = fs::File::open(ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
    // SAFETY: plain syscalls on descriptors this function owns; the buffers
    // passed are live locals of the sizes given.
    unsafe {
        assert_eq!(libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns: {}", io::Error::last_os_error());
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_ICMP);
        assert!(fd >= 0, "raw ICMP socket: {}", io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(fd);
        let mut to: libc::sockaddr_in = std::mem::zeroed();
        to.sin_family = libc::AF_INET as libc::sa_family_t;
        to.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
        let to_len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let mut next = Instant::now();
        let mut seq: u16 = 0;
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next {
                // Echo request: type 8, code 0, checksum, id, seq, 56 bytes.
                let mut pkt = [0u8; 64];
                pkt[0] = 8;
                pkt[4..6].copy_from_slice(&id.to_be_bytes());
                pkt[6..8].copy_from_slice(&seq.to_be_bytes());
                let sum = inet_checksum(&pkt);
                pkt[2..4].copy_from_slice(&sum.to_be_bytes());
                // Unreachable for a moment (no ARP answer yet) is normal.
                libc::sendto(fd.as_raw_fd(), pkt.as_ptr().cast(), pkt.len(), 0, (&raw const to).cast(), to_len);
                seq = seq.wrapping_add(1);
                while next <= now {
                    next += PING_INTERVAL;
                }
            }
            let wait = next.saturating_duration_since(Instant::now());
            let ts = libc::timespec { tv_sec: 0, tv_nsec: wait.subsec_nanos() as libc::c_long };
            let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            if libc::ppoll(&raw mut pfd, 1, &raw const ts, std::ptr::null()) <= 0 {
                continue;
            }
            loop {
                let n = libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT);
                let Ok(n) = usize::try_from(n) else { break };
                // IPv4 header, then an echo reply (type 0) with our id.
                let p = &buf[..n];
                let ihl = usize::from(p.first().map_or(0, |b| b & 0x0f)) * 4;
                let Some(icmp) = p.get(ihl..).filter(|i| i.len() >= 8 && ihl >= 20) else { continue };
                if p[12..16] != dst.octets() || icmp[0] != 0 || icmp[4..6] != id.to_be_bytes() {
                    continue;
                }
                let mut tv = libc::timeval { tv_sec: 0, tv_usec: 0 };
                libc::ioctl(fd.as_raw_fd(), lab::SIOCGSTAMP, &raw mut tv);
                let t = tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
                if let Ok(mut r) = replies.lock() {
                    r.push(t);
                }
            }
        }
    }
}

// ---------------------------------------------------------------- capture

/// What [`capture`] saw: receive time stamps of the router's adverts.
struct Capture {
    at: Vec<Duration>,
    /// Packets the kernel dropped on the capture socket (gaps then lie).
    drops: u32,
}

impl Capture {
    fn max_gap(&self) -> Duration {
        self.at.windows(2).map(|w| w[1].saturating_sub(w[0])).max().unwrap_or_default()
    }
}

/// Captures, for `period`, the VRRP adverts `r` sends, on `r`'s port of the
/// switch, with the kernel's receive time stamps (as the lab's
/// `capture_adverts`, plus a large buffer and the drop count: the capture
/// runs on a loaded machine).
fn capture(b: &Bench, r: Router, period: Duration) -> Capture {
    let (at, drops) = vrrp_frames(b, r, period, 16 << 20, |_, at| Some(at));
    Capture { at, drops }
}

/// `keep(packet, receive time)` of each IPv4 VRRP packet from `r`'s eth0
/// address seen on `r`'s switch port during `period`, with a `rcvbuf`-byte
/// buffer, and the frames the tap dropped.
fn vrrp_frames<T: Send + 'static>(
    b: &Bench,
    r: Router,
    period: Duration,
    rcvbuf: libc::c_int,
    keep: fn(&[u8], Duration) -> Option<T>,
) -> (Vec<T>, u32) {
    let ns = PathBuf::from(format!("/run/netns/{}", b.ns("sw")));
    let port = router_name(r);
    let host = if r == R1 { 1 } else { 2 };
    let src = [10, b.lab.net, 0, host];
    // setns moves only the calling thread: a thread of its own.
    let t = std::thread::spawn(move || {
        let tap = lab::PortTap::open(&ns, port, Some(rcvbuf));
        let deadline = Instant::now() + period;
        let mut buf = [0u8; 2048];
        let mut kept = Vec::new();
        while Instant::now() < deadline {
            let Some(f) = tap.next(&mut buf) else { continue };
            let p = &buf[..f.len];
            if f.protocol != libc::ETH_P_IP as u16 || p.len() < 20 || p[0] >> 4 != 4 || p[9] != 112 || p[12..16] != src
            {
                continue;
            }
            kept.extend(keep(p, f.at));
        }
        (kept, tap.drops())
    });
    t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

// ---------------------------------------------------------------- configs

/// 10.N.1.1, 10.N.1.2, ... 10.N.1.250, 10.N.2.1, ...: instance `i`'s VIP.
fn vip_of(net: u8, i: usize) -> String {
    format!("10.{net}.{}.{}/32", 1 + (i - 1) / 250, (i - 1) % 250 + 1)
}

/// keepalived.conf with VRRPv3 and `n` instances VI_1..VI_n (VRIDs 1..n,
/// one /32 VIP each) on eth0.
fn multi_config(net: u8, n: usize, advert: &str, priority: u8, master: bool) -> String {
    let mut s = String::from("global_defs {\n    vrrp_version 3\n}\n\n");
    for i in 1..=n {
        let state = if master { "MASTER" } else { "BACKUP" };
        let _ = write!(
            s,
            "vrrp_instance VI_{i} {{\n    state {state}\n    interface eth0\n    virtual_router_id {i}\n    \
             priority {priority}\n    advert_int {advert}\n    virtual_ipaddress {{\n        {}\n    }}\n}}\n",
            vip_of(net, i)
        );
    }
    s
}

/// One VRRPv3 10 ms instance (VRID 51, the lab's VIP) tracking `scripts`
/// (`(name, command, weight, timeout)`), defined first.
fn script_config(b: &Bench, priority: u8, master: bool, scripts: &[(String, String, i32, Option<u32>)]) -> String {
    let mut s = String::from("global_defs {\n    vrrp_version 3\n}\n\n");
    for (name, cmd, weight, timeout) in scripts {
        let _ = writeln!(s, "vrrp_script {name} {{\n    script \"{cmd}\"\n    interval 1\n    weight {weight}");
        if let Some(t) = timeout {
            let _ = writeln!(s, "    timeout {t}");
        }
        let _ = writeln!(s, "}}");
    }
    let state = if master { "MASTER" } else { "BACKUP" };
    let _ = write!(
        s,
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.01\n"
    );
    if !scripts.is_empty() {
        let _ = writeln!(s, "    track_script {{");
        for (name, ..) in scripts {
            let _ = writeln!(s, "        {name}");
        }
        let _ = writeln!(s, "    }}");
    }
    let _ = write!(s, "    virtual_ipaddress {{\n        {}/24\n    }}\n}}\n", b.lab.vip());
    s
}

// ---------------------------------------------------------------- scenarios

fn high(v: Vrrp) -> Vrrp {
    Vrrp { priority: 150, master: true, ..v }
}

fn low(v: Vrrp) -> Vrrp {
    Vrrp { priority: 100, master: false, ..v }
}

/// 10 ms VRRPv3.
const V3_10MS: Vrrp = Vrrp { advert: Duration::from_millis(10), ..Vrrp::V3 };

/// Trial `n`: R1's (`a`'s) cable pulled while the client pings the VIP
/// (pinger number `ping`) until R2 (`c`) is master; the outage, after the
/// cable is back and the pair is back to R1 master and R2 backup.
fn cable_trial(b: &mut Bench, a: Daemon, c: Daemon, ping: usize, test: &str, n: usize) -> Duration {
    let pinger = start_ping(b, ping);
    let t0 = SystemTime::now();
    b.lab.cable(R1, false);
    b.lab.wait_for(a, FAULT);
    b.lab.wait_for(c, MASTER);
    let out = stop_ping(b, pinger, t0);
    eprintln!("bench: {test}: trial {}: cable pulled: {:.1} ms", n + 1, ms(out));
    b.lab.cable(R1, true);
    b.lab.wait_for(a, MASTER);
    b.lab.wait_for(c, BACKUP);
    out
}

/// A pair of `kind` (R1 150, R2 100), `trials` times: R1's cable pulled
/// (and plugged back, R1 preempts), then R1 stopped with SIGTERM (and
/// started again, R1 preempts). Returns the client's outages: (cable,
/// graceful).
fn outages(test: &str, net: u8, kind: Kind, proto: Vrrp, trials: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut b = Bench::new(test, net);
    let (hi, lo) = (high(proto), low(proto));
    let settle =
        if proto.advert >= Duration::from_secs(1) { Duration::from_millis(1200) } else { Duration::from_millis(300) };
    let mut a = b.start_vrrp(R1, kind, &hi);
    b.lab.wait_for(a, INIT);
    let c = b.start_vrrp(R2, kind, &lo);
    b.lab.wait_for(c, INIT);
    b.lab.wait_for(a, MASTER);
    b.lab.converges_on(R1, settle);
    let (mut cable, mut graceful) = (Vec::new(), Vec::new());
    for n in 0..trials {
        cable.push(cable_trial(&mut b, a, c, 2 * n, test, n));
        b.lab.converges_on(R1, settle);

        let ping = start_ping(&b, 2 * n + 1);
        let t0 = SystemTime::now();
        b.lab.term(a);
        b.lab.wait_for(c, MASTER);
        let out = stop_ping(&b, ping, t0);
        eprintln!("bench: {test}: trial {}: graceful stop: {:.1} ms", n + 1, ms(out));
        graceful.push(out);
        a = b.start_vrrp(R1, kind, &hi);
        b.lab.wait_for(a, MASTER);
        b.lab.wait_for(c, BACKUP);
        b.lab.converges_on(R1, settle);
    }
    (cable, graceful)
}

/// The reloads measured: what R1's configuration becomes at the SIGHUP.
#[derive(Clone, Copy, PartialEq)]
enum Reload {
    /// 1,000 instances (250 on eth0 and on each of three more links), one of
    /// them, on eth0, at 50 ms and the rest at 1 s; the SIGHUP lowers the
    /// priority of another.
    OneOfThousand,
    /// The lab's instance at 50 ms, and the SIGHUP adds a backup with
    /// 40,000 excluded addresses (valid, applied).
    Excluded40k,
    /// The lab's instance at 50 ms with 40,000 more lines in its
    /// `virtual_ipaddress` (refused by vipd: an advert carries 255).
    Vips40k,
}

/// 50 ms VRRPv3.
const V3_50MS: Vrrp = Vrrp { advert: Duration::from_millis(50), ..Vrrp::V3 };

/// Links vl1..vl`n` on both routers, vl`v` of each on a bridge br`v` of
/// its own in the switch (the kernel here has no VLAN driver), with
/// addresses 10.N.(100+v).host/24: more interfaces, so more than 255
/// instances.
fn add_links(b: &Bench, n: usize) {
    let sw = b.ns("sw");
    for v in 1..=n {
        let br = format!("br{v}");
        b.lab.ip(&["-n", &sw, "link", "add", &br, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"]);
        b.lab.ip(&["-n", &sw, "link", "set", &br, "up"]);
        for r in [R1, R2] {
            let (ns, host) = (b.ns(router_name(r)), if r == R1 { 1 } else { 2 });
            let (name, port) = (format!("vl{v}"), format!("{}v{v}", router_name(r)));
            b.lab.ip(&["-n", &ns, "link", "add", &name, "type", "veth", "peer", "name", &port, "netns", &sw]);
            b.lab.ip(&["-n", &sw, "link", "set", &port, "master", &br]);
            b.lab.ip(&["-n", &sw, "link", "set", &port, "up"]);
            let addr = format!("10.{}.{}.{host}/24", b.lab.net, 100 + v);
            b.lab.ip(&["-n", &ns, "addr", "add", &addr, "dev", &name]);
            b.lab.ip(&["-n", &ns, "link", "set", &name, "up"]);
        }
    }
}

/// [`Reload::OneOfThousand`]'s configuration: [`thousand_instances`] at
/// 1 s, but the first at 50 ms (the one whose gap is measured).
fn thousand_config(net: u8, priority: u8, master: bool, changed: bool) -> String {
    thousand_instances(net, "1", Some("0.05"), priority, master, changed)
}

/// 1,000 VRRPv3 instances: `i` on eth0 (i < 250) or vl(i/250) (see
/// `add_links`), VRID 1 + i % 250, VIP 10.net.(200 + i/250).(1 + i % 250)/32,
/// adverts every `advert` (the first every `first` if given). `changed`:
/// instance 1,000 10 below `priority`.
fn thousand_instances(net: u8, advert: &str, first: Option<&str>, priority: u8, master: bool, changed: bool) -> String {
    let mut s = String::from("global_defs {\n    vrrp_version 3\n}\n\n");
    let state = if master { "MASTER" } else { "BACKUP" };
    for i in 0..1000 {
        let iface = if i < 250 { "eth0".to_owned() } else { format!("vl{}", i / 250) };
        let advert = if i == 0 { first.unwrap_or(advert) } else { advert };
        let prio = if changed && i == 999 { priority - 10 } else { priority };
        let _ = write!(
            s,
            "vrrp_instance VI_{} {{\n    state {state}\n    interface {iface}\n    virtual_router_id {}\n    \
             priority {prio}\n    advert_int {advert}\n    virtual_ipaddress {{\n        10.{net}.{}.{}/32\n    }}\n}}\n",
            i + 1,
            1 + i % 250,
            200 + i / 250,
            1 + i % 250
        );
    }
    s
}

/// `n` addresses 10.(200+k/65536).(k/256).(k%256)/32, as tests/netns_reload.rs.
fn many_addresses(n: usize) -> String {
    let mut s = String::new();
    for k in 0..n {
        let _ = writeln!(s, "        10.{}.{}.{}/32", 200 + ((k >> 16) & 0x3f), (k >> 8) & 0xff, k & 0xff);
    }
    s
}

/// The pathological configurations of tests/netns_reload.rs, at 50 ms.
fn pathological_config(lab: &Lab, valid: bool) -> String {
    let base = lab.config(R1, &high(V3_50MS));
    let vip = format!("        {}/24\n", lab.vip());
    if !valid {
        return base.replacen(&vip, &format!("{vip}{}", many_addresses(40_000)), 1);
    }
    format!(
        "{base}vrrp_instance VI_2 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 52\n    \
         priority 100\n    advert_int 40\n    virtual_ipaddress {{\n        10.{}.0.101/24\n    }}\n    \
         virtual_ipaddress_excluded {{\n{}    }}\n}}\n",
        lab.net,
        many_addresses(40_000)
    )
}

struct ReloadGap {
    capture: Capture,
    /// From the last advert captured to the end of the capture: a master
    /// still silent when the window ends.
    trailing: Duration,
    /// Instances the backup took over during the capture.
    takeovers: usize,
    /// The daemon's line saying how the reload ended (vipd), if seen.
    outcome: Option<String>,
}

/// A pair of `kind` (R1 150, R2 100) at 50 ms; 2 s after both settled,
/// R1's configuration file is rewritten and R1 gets a SIGHUP 0.5 s into
/// a 6 s capture of its adverts on its switch port.
fn reload_gap(test: &str, net: u8, kind: Kind, what: Reload) -> ReloadGap {
    let mut b = Bench::new(test, net);
    let (a, c, new_conf) = if what == Reload::OneOfThousand {
        add_links(&b, 3);
        let a = b.start(R1, kind, &thousand_config(net, 150, true, false));
        b.wait_count(a, MASTER, 1000, STARTUP);
        let c = b.start(R2, kind, &thousand_config(net, 100, false, false));
        b.wait_count(c, BACKUP, 1000, STARTUP);
        (a, c, thousand_config(net, 150, true, true))
    } else {
        let a = b.start_vrrp(R1, kind, &high(V3_50MS));
        b.lab.wait_for(a, MASTER);
        let c = b.start_vrrp(R2, kind, &low(V3_50MS));
        b.lab.wait_for(c, INIT);
        (a, c, pathological_config(&b.lab, what == Reload::Excluded40k))
    };
    std::thread::sleep(Duration::from_secs(2));
    let conf = b.dir().join(format!("r1-{}-1.conf", kind_name(kind)));
    assert!(conf.exists(), "{test}: no {}", conf.display());
    fs::write(&conf, new_conf).expect("write the configuration");
    b.lab.skip_log(a);
    let masters_before = b.lab.log(c).matches(MASTER).count();
    let pid = b.pids(R1)[0];
    let hup = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        signal(pid, libc::SIGHUP);
    });
    let captured = capture(&b, R1, Duration::from_secs(6));
    let end = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let _ = hup.join();
    let trailing = captured.at.last().map_or(Duration::MAX, |&l| end.saturating_sub(l));
    let takeovers = b.lab.log(c).matches(MASTER).count() - masters_before;
    let outcome = (kind == VIPD).then(|| {
        let log = b.lab.log(a);
        log.lines().find(|l| l.contains("Reload finished") || l.contains("keeping the running")).map(str::to_owned)
    });
    ReloadGap { capture: captured, trailing, takeovers, outcome: outcome.flatten() }
}

/// Process killed → VIP on the peer, `trials` times, on a v3 10 ms pair
/// (R1 150, R2 100) where R1 loses 60 without the process: vipd with
/// `vrrp_track_process`; keepalived with a `killall -0` script every second
/// (its smallest interval), since its track_process cannot subscribe to
/// process events inside a network namespace (errno 111).
fn process_detection(test: &str, net: u8, kind: Kind, trials: usize) -> Vec<Duration> {
    let mut b = Bench::new(test, net);
    let name = format!("vtpb{}", std::process::id() % 100_000);
    let path = b.dir().join(&name);
    fs::copy("/bin/sleep", &path).expect("copy sleep");
    let spawn = || {
        // ETXTBSY while a fork elsewhere still holds the copy open.
        for _ in 0..100 {
            match Command::new(&path).arg("300").stdin(Stdio::null()).spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => std::thread::sleep(Duration::from_millis(10)),
                r => return r.expect("start the tracked process"),
            }
        }
        panic!("{}: text file busy", path.display());
    };
    let (tracker, uses) = if kind == VIPD {
        (
            format!("vrrp_track_process tp {{\n    process {name}\n    weight -60\n}}\n"),
            "track_process {\n        tp\n    }",
        )
    } else {
        (
            format!(
                "vrrp_script chk {{\n    script \"/usr/bin/killall -0 {name}\"\n    interval 1\n    fall 1\n    rise 1\n    \
                 weight -60\n}}\n"
            ),
            "track_script {\n        chk\n    }",
        )
    };
    let conf = b.lab.config(R1, &high(V3_10MS));
    let conf = conf.replacen("vrrp_instance VI_1 {\n", &format!("{tracker}\nvrrp_instance VI_1 {{\n    {uses}\n"), 1);
    let mut p = spawn();
    let a = b.start(R1, kind, &conf);
    b.lab.wait_for(a, MASTER);
    b.start_vrrp(R2, kind, &low(V3_10MS));
    let settle = Duration::from_millis(300);
    b.lab.converges_on(R1, settle);
    let mut out = Vec::new();
    for n in 0..trials {
        // Spread the kills over a script interval: keepalived's detection
        // depends on where in its 1 s interval the process dies.
        std::thread::sleep(Duration::from_millis(50 + 211 * n as u64 % 1000));
        let t0 = Instant::now();
        let _ = p.kill();
        let _ = p.wait();
        while !b.lab.holds_vip(R2) {
            assert!(t0.elapsed() < Duration::from_secs(10), "{test}: the VIP did not move\n{}", b.lab.status());
            std::thread::sleep(Duration::from_millis(1));
        }
        let dt = t0.elapsed();
        eprintln!("bench: {test}: trial {}: process killed -> VIP on R2 in {:.1} ms", n + 1, ms(dt));
        out.push(dt);
        p = spawn();
        b.lab.eventually("back on R1", Duration::from_secs(10), |l| l.holds_vip(R1) && !l.holds_vip(R2));
        b.lab.converges_on(R1, settle);
        // A script check must not still hold the failure it saw.
        if kind == KA {
            std::thread::sleep(Duration::from_millis(1100));
        }
    }
    let _ = p.kill();
    let _ = p.wait();
    out
}

/// Upgrades in a row in the `upgrade` section.
const UPGRADES: usize = 10;

/// What an upgrade (vipd) or a restart (keepalived) of the master cost.
struct UpgradeGap {
    /// The master's adverts meanwhile (vipd only: keepalived's master is
    /// gone for the restart).
    capture: Capture,
    /// The client's interruptions (reply gaps over 15 ms) and the longest
    /// gap between two replies.
    outages: Vec<Duration>,
    longest: Duration,
    /// Times the backup became master.
    takeovers: usize,
}

/// A v3 10 ms pair of `kind`, the client pinging the VIP every 5 ms. vipd:
/// [`UPGRADES`] `vipd upgrade`s of the master, 300 ms apart, its adverts
/// captured throughout; keepalived: the master stopped (SIGTERM) and started
/// again, as a package upgrade restarts it.
fn upgrade_gap(test: &str, net: u8, kind: Kind) -> UpgradeGap {
    let mut b = Bench::new(test, net);
    let mut a = b.start_vrrp(R1, kind, &high(V3_10MS));
    b.lab.wait_for(a, MASTER);
    let c = b.start_vrrp(R2, kind, &low(V3_10MS));
    b.lab.wait_for(c, INIT);
    b.lab.converges_on(R1, Duration::from_millis(500));
    let masters_before = b.lab.log(c).matches(MASTER).count();
    let ping = start_ping(&b, 0);
    let t0 = SystemTime::now();
    let capture = if kind == VIPD {
        let bin = vipd_bin().unwrap_or_else(|| env!("CARGO_BIN_EXE_vipd").to_owned());
        let (ns, sock) = (b.ns("r1"), b.control_path(R1));
        let upgrades = std::thread::spawn(move || {
            for _ in 0..UPGRADES {
                std::thread::sleep(Duration::from_millis(300));
                let out = Command::new("ip")
                    .args(["netns", "exec", &ns, &bin, "upgrade", "--control"])
                    .arg(&sock)
                    .stdin(Stdio::null())
                    .output()
                    .expect("run vipd upgrade");
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(out.status.success(), "vipd upgrade: {text}{}", String::from_utf8_lossy(&out.stderr));
                eprintln!("bench: {}", text.trim_end());
            }
        });
        let captured = capture(&b, R1, Duration::from_millis(300) * (UPGRADES as u32 + 1));
        upgrades.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        captured
    } else {
        b.lab.term(a);
        b.lab.wait_for(c, MASTER);
        a = b.start_vrrp(R1, kind, &high(V3_10MS));
        b.lab.wait_for(a, MASTER);
        b.lab.wait_for(c, BACKUP);
        b.lab.converges_on(R1, Duration::from_millis(300));
        Capture { at: Vec::new(), drops: 0 }
    };
    let takeovers = b.lab.log(c).matches(MASTER).count() - masters_before;
    let (longest, outages) = stop_ping_outages(&b, ping, t0);
    let _ = a;
    UpgradeGap { capture, outages, longest, takeovers }
}

/// As [`stop_ping`], and every interruption since `since` (a reply gap
/// over three ping intervals), in order.
fn stop_ping_outages(b: &Bench, mut p: Ping, since: SystemTime) -> (Duration, Vec<Duration>) {
    let now = unix_secs(SystemTime::now());
    let deadline = Instant::now() + lab::TIMEOUT;
    while p.replies().iter().filter(|&&t| t > now).count() < 20 {
        assert!(Instant::now() < deadline, "the client lost {} for good\n{}", b.lab.vip(), b.lab.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    p.finish();
    let since = unix_secs(since);
    let t = p.replies();
    let gaps = t.windows(2).filter(|w| w[1] >= since).map(|w| w[1] - w[0]);
    let longest = Duration::from_secs_f64(gaps.clone().fold(0.0, f64::max));
    let limit = 3.0 * PING_INTERVAL.as_secs_f64();
    (longest, gaps.filter(|&g| g > limit).map(Duration::from_secs_f64).collect())
}

/// CPU and memory of master and backup.
struct Footprint {
    /// % of one core.
    cpu: [f64; 2],
    rss_kib: [u64; 2],
    /// The master's largest advert gap over the window, if captured.
    gap: Option<Capture>,
    /// Instances the backup took over during the window (should be 0).
    backup_masters: usize,
    /// With `floor`: the master's floor (`advert_floor`), % of a core.
    floor: Option<Result<f64, String>>,
}

/// `n` instances at `advert` on a pair of `kind`: R1 (150) first, until all
/// its instances are MASTER, then R2 (100); after 2 s, CPU over `window`
/// and resident memory at its end. With `gap`, the master's adverts are
/// captured during the window too. With `floor`, R1 is then stopped and a
/// bare sender of the same adverts measured in its place.
fn footprint(
    test: &str,
    net: u8,
    kind: Kind,
    (n, advert): (usize, &str),
    window: Duration,
    (gap, floor): (bool, bool),
) -> Footprint {
    let mut b = Bench::new(test, net);
    let a = b.start(R1, kind, &multi_config(net, n, advert, 150, true));
    b.wait_count(a, MASTER, n, STARTUP);
    let c = b.start(R2, kind, &multi_config(net, n, advert, 100, false));
    b.wait_count(c, BACKUP, n, STARTUP);
    std::thread::sleep(Duration::from_secs(2));
    let masters_before = b.lab.log(c).matches(MASTER).count();
    let pids = [b.pids(R1), b.pids(R2)];
    let ticks = |i: usize| pids[i].iter().map(|&p| cpu_ticks(p)).sum::<u64>();
    let (t0, c0) = (Instant::now(), [ticks(0), ticks(1)]);
    let captured = if gap {
        Some(capture(&b, R1, window))
    } else {
        std::thread::sleep(window);
        None
    };
    let (elapsed, c1) = (t0.elapsed().as_secs_f64(), [ticks(0), ticks(1)]);
    let rss = |i: usize| pids[i].iter().map(|&p| rss_kib(p)).sum::<u64>();
    let cpu = |i: usize| (c1[i] - c0[i]) as f64 / clock_ticks() / elapsed * 100.0;
    let backup_masters = b.lab.log(c).matches(MASTER).count() - masters_before;
    // Read before the floor stops R1.
    let (cpu, rss_kib) = ([cpu(0), cpu(1)], [rss(0), rss(1)]);
    let floor = floor.then(|| {
        // R2 takes over and goes back to backup on the floor's adverts,
        // as it does on R1's.
        b.lab.kill(a);
        std::thread::sleep(Duration::from_secs(1));
        let interval = Duration::from_secs_f64(advert.parse().unwrap_or(1.0));
        let n = u8::try_from(n).map_err(|_| format!("{n} instances: more than one link holds"))?;
        advert_floor::measure(&b.lab.ns_path("r1"), &advert_floor::on_eth0(net, n), interval, window)
    });
    Footprint { cpu, rss_kib, gap: captured, backup_masters, floor }
}

#[derive(Clone, Copy, PartialEq)]
enum Checks {
    /// 200 `vrrp_script`s running `/bin/true` every second (weight 0).
    Burst,
    /// 50 `vrrp_script`s hanging (`sleep`) until their 1 s timeout
    /// (weight -1; R1 at 200 stays above R2's 100).
    Hang,
}

struct ScriptGap {
    capture: Capture,
    /// MASTER → other state transitions of R1 during the capture.
    left_master: usize,
    /// Hanging scripts running at the end of the capture, and left after
    /// the daemon stopped.
    hanging: usize,
    leftover: usize,
    /// Processes started per second on the whole machine during the
    /// capture: the scripts did run, and how often (an upper bound).
    forks: f64,
}

/// The last pid handed out (the lab shares the host's pid namespace).
fn last_pid() -> u64 {
    fs::read_to_string("/proc/sys/kernel/ns_last_pid").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Pids handed out from `before` to `after`: past pid_max they start again
/// above the 300 reserved ones.
fn pids_between(before: u64, after: u64) -> u64 {
    if after >= before {
        return after - before;
    }
    let max = fs::read_to_string("/proc/sys/kernel/pid_max").ok().and_then(|s| s.trim().parse().ok());
    max.unwrap_or(32768u64).saturating_sub(before) + after.saturating_sub(300)
}

/// A 10 ms pair of `kind`, R1 running `checks`: the master's adverts over
/// `period`, from 2 s after R2 started.
fn script_gap(test: &str, net: u8, kind: Kind, checks: Checks, period: Duration) -> ScriptGap {
    // `sleep 999.<pid><nn>`: a duration no other process uses, found by
    // its argv; swept on drop (after the lab, declared later, has stopped
    // the daemons).
    let marker = format!("999.{:07}", std::process::id());
    let _sweep = Sweep(marker.clone());
    let mut b = Bench::new(test, net);
    let (scripts, prio): (Vec<_>, u8) = match checks {
        Checks::Burst => ((0..200).map(|i| (format!("chk{i}"), format!("/bin/true {i}"), 0, None)).collect(), 150),
        Checks::Hang => {
            let hang = |i| (format!("hang{i}"), format!("/bin/sleep {marker}{i:02}"), -1, Some(1));
            ((0..50).map(hang).collect(), 200)
        }
    };
    let conf = script_config(&b, prio, true, &scripts);
    let a = b.start(R1, kind, &conf);
    b.lab.wait_for(a, MASTER);
    let conf = script_config(&b, 100, false, &[]);
    let c = b.start(R2, kind, &conf);
    b.lab.wait_for(c, INIT);
    std::thread::sleep(Duration::from_secs(2));
    let (before, pid0) = (b.lab.log(a).len(), last_pid());
    let capture = capture(&b, R1, period);
    let forks = pids_between(pid0, last_pid()) as f64 / period.as_secs_f64();
    let log = b.lab.log(a);
    let left_master = log[before..].matches(BACKUP).count() + log[before..].matches(FAULT).count();
    let hanging = procs_with(&marker).len();
    b.lab.term(a);
    std::thread::sleep(Duration::from_secs(2));
    let leftover = procs_with(&marker).len();
    ScriptGap { capture, left_master, hanging, leftover, forks }
}

/// The gap rows' floor (`gap_floor`): a bare SCHED_RR sender in R1's
/// place, the processes of `checks` started beside it; its adverts over
/// `period`.
fn script_gap_floor(test: &str, net: u8, checks: Checks, period: Duration) -> Result<Capture, String> {
    let b = Bench::new(test, net);
    let churn = if checks == Checks::Burst { gap_floor::Churn::Burst } else { gap_floor::Churn::Hang };
    gap_floor::with_floor(&b.lab.ns_path("r1"), net, churn, || capture(&b, R1, period))
}

/// "10.4 ms (5 runs: 10.1, 10.4, …; ≈ 210 forks/s)": the largest gap of
/// all runs, each run's, the forks per second of the busiest run (the
/// scripts did run: how many run per second, as the daemon counts none).
fn fmt_script_gaps(runs: &[ScriptGap], wanted: usize, checks: Checks) -> String {
    let Some(worst) = runs.iter().max_by_key(|g| g.capture.max_gap()) else {
        return "failed".to_owned();
    };
    let mut s = fmt_gap(&worst.capture);
    if wanted > 1 {
        let each: Vec<_> = runs.iter().map(|g| format!("{:.1}", ms(g.capture.max_gap()))).collect();
        let _ = write!(s, " ({} runs: {}", runs.len(), each.join(", "));
        if runs.len() < wanted {
            let _ = write!(s, "; {} failed", wanted - runs.len());
        }
        s.push(';');
    } else {
        s.push_str(" (");
    }
    let forks = runs.iter().map(|g| g.forks).fold(0.0, f64::max);
    let _ = write!(s, " ≈ {forks:.0} forks/s)");
    let left: usize = runs.iter().map(|g| g.left_master).sum();
    if left > 0 {
        let _ = write!(s, ", left MASTER {left}×");
    }
    let leftover: usize = runs.iter().map(|g| g.leftover).sum();
    if checks == Checks::Hang && leftover > 0 {
        let _ = write!(s, ", {leftover} scripts left behind");
    }
    s
}

struct Load {
    /// Backup → MASTER on R2 during the load.
    failovers: usize,
    /// MASTER → BACKUP or FAULT on R1 during the load.
    master_left: usize,
    capture: Capture,
}

/// A 10 ms pair of `kind`; once R1 is a stable master, 32 busy loops for
/// `period`; counts the transitions and captures R1's adverts meanwhile.
fn false_failovers(test: &str, net: u8, kind: Kind, period: Duration) -> Load {
    let mut b = Bench::new(test, net);
    let a = b.start_vrrp(R1, kind, &high(V3_10MS));
    b.lab.wait_for(a, INIT);
    let c = b.start_vrrp(R2, kind, &low(V3_10MS));
    b.lab.wait_for(c, INIT);
    b.lab.wait_for(a, MASTER);
    b.lab.converges_on(R1, Duration::from_secs(1));
    let (la, lc) = (b.lab.log(a).len(), b.lab.log(c).len());
    let capture = {
        let mut busy = Procs::default();
        for _ in 0..32 {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "while :; do :; done"]);
            busy.spawn(cmd);
        }
        capture(&b, R1, period)
        // The loops die here.
    };
    let failovers = b.lab.log(c)[lc..].matches(MASTER).count();
    let log = b.lab.log(a);
    let master_left = log[la..].matches(BACKUP).count() + log[la..].matches(FAULT).count();
    Load { failovers, master_left, capture }
}

/// What a 100 ms master sent idle and under a lower-priority flood.
struct Flood {
    idle_per_s: f64,
    adverts_per_s: f64,
    arps_per_s: f64,
    gap: Duration,
    takeovers: usize,
    /// The flood as it got out of the sender.
    sent_per_s: f64,
}

/// R1 (150) master and R2 (100) backup of `kind` at VRRPv3 100 ms; the
/// client floods adverts of priority 50 at `rate` a second for `period`.
fn flood(test: &str, net: u8, kind: Kind, rate: u32, period: Duration) -> Flood {
    let mut b = Bench::new(test, net);
    let v = Vrrp::V3;
    let a = b.start_vrrp(R1, kind, &high(v));
    b.lab.wait_for(a, MASTER);
    let c = b.start_vrrp(R2, kind, &low(v));
    b.lab.wait_for(c, INIT);
    b.lab.converges_on(R1, Duration::from_secs(1));
    let idle_window = Duration::from_secs(3);
    let (idle, _) = b.lab.capture_sent(R1, idle_window);
    let lc = b.lab.log(c).len();
    let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
    let spec = inject::Spec {
        version: 3,
        vrid: 51,
        priority: 50,
        interval: 10,
        addrs: vec![IpAddr::V4(b.lab.vip().parse().expect("VIP"))],
        src: IpAddr::V4(b.lab.host_addr(10).parse().expect("client")),
        dst: group,
        ttl: 255,
    };
    let pkt = inject::advert(&spec, inject::multicast_mac(group));
    let warm = Duration::from_millis(500);
    let sender = inject::Sender::start(b.lab.ns_path("c"), "eth0", vec![pkt], rate, period + warm * 2, 0);
    std::thread::sleep(warm);
    let t0 = Instant::now();
    let (adverts, arps) = b.lab.capture_sent(R1, period);
    let sent = sender.finish();
    let sent_per_s = sent as f64 / t0.elapsed().as_secs_f64().max(0.001);
    let takeovers = b.lab.log(c)[lc..].matches(MASTER).count();
    let gaps: Vec<Duration> = adverts.windows(2).map(|w| w[1].at.saturating_sub(w[0].at)).collect();
    Flood {
        idle_per_s: idle.len() as f64 / idle_window.as_secs_f64(),
        adverts_per_s: adverts.len() as f64 / period.as_secs_f64(),
        arps_per_s: arps as f64 / period.as_secs_f64(),
        gap: gaps.into_iter().max().unwrap_or(period),
        takeovers,
        sent_per_s,
    }
}

/// A master under a flood of ARP claiming its VIP.
struct ArpFlood {
    idle_cpu: f64,
    cpu: f64,
    gap: Capture,
    takeovers: usize,
    sent_per_s: f64,
}

/// R1 (150) master and R2 (100) backup of `kind` at VRRPv3 10 ms; the
/// client floods gratuitous ARPs claiming the VIP from another MAC at
/// `rate` a second for `period`: the frames vipd's ARP watch reads (its
/// filter passes them), which keepalived does not read at all. R1's CPU
/// idle (3 s) and during the flood, and its largest advert gap.
fn arp_flood(test: &str, net: u8, kind: Kind, rate: u32, period: Duration) -> ArpFlood {
    let mut b = Bench::new(test, net);
    let v = Vrrp { advert: Duration::from_millis(10), ..Vrrp::V3 };
    let a = b.start_vrrp(R1, kind, &high(v));
    b.lab.wait_for(a, MASTER);
    let c = b.start_vrrp(R2, kind, &low(v));
    b.lab.wait_for(c, INIT);
    b.lab.converges_on(R1, Duration::from_secs(1));
    let pids = b.pids(R1);
    let ticks = || pids.iter().map(|&p| cpu_ticks(p)).sum::<u64>();
    let cpu_over = |during: &mut dyn FnMut()| {
        let (t0, c0) = (Instant::now(), ticks());
        during();
        (ticks() - c0) as f64 / clock_ticks() / t0.elapsed().as_secs_f64() * 100.0
    };
    let idle_cpu = cpu_over(&mut || std::thread::sleep(Duration::from_secs(3)));
    let lc = b.lab.log(c).len();
    let vip: Ipv4Addr = b.lab.vip().parse().expect("VIP");
    let pkt = inject::garp([0x02, 0, 0, 0, 0, 0x99], vip);
    let warm = Duration::from_millis(500);
    let sender = inject::Sender::start(b.lab.ns_path("c"), "eth0", vec![pkt], rate, period + warm * 2, 0);
    std::thread::sleep(warm);
    let t0 = Instant::now();
    let mut gap = None;
    let cpu = cpu_over(&mut || gap = Some(capture(&b, R1, period)));
    let sent = sender.finish();
    ArpFlood {
        idle_cpu,
        cpu,
        gap: gap.unwrap_or(Capture { at: Vec::new(), drops: 0 }),
        takeovers: b.lab.log(c)[lc..].matches(MASTER).count(),
        sent_per_s: sent as f64 / t0.elapsed().as_secs_f64().max(0.001),
    }
}

/// One `status json` request on the control socket at `path`: how long
/// until the whole answer arrived, and its size.
fn query(path: &Path, request: &str) -> Option<(Duration, usize)> {
    use std::io::{Read, Write};
    let t0 = Instant::now();
    let mut s = std::os::unix::net::UnixStream::connect(path).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    (!out.is_empty() && !out.starts_with(b"error")).then(|| (t0.elapsed(), out.len()))
}

/// What status queries cost a master of 255 instances at 1 s.
struct StatusCost {
    median: Duration,
    max: Duration,
    bytes: usize,
    /// % of a core: idle, and while answering 100 queries a second.
    cpu: [f64; 2],
    answered: usize,
}

fn status_cost(test: &str, net: u8, window: Duration) -> StatusCost {
    let mut b = Bench::new(test, net);
    let n = 255;
    let a = b.start(R1, VIPD, &multi_config(net, n, "1", 150, true));
    b.wait_count(a, MASTER, n, STARTUP);
    let path = b.control_path(R1);
    let request = "status json\n";
    let mut lat = Vec::new();
    let mut bytes = 0;
    for _ in 0..200 {
        let (d, len) = query(&path, request).unwrap_or_else(|| panic!("no answer on {}", path.display()));
        lat.push(d);
        bytes = len;
    }
    let pid = b.pids(R1)[0];
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    std::thread::sleep(window);
    let idle = (cpu_ticks(pid) - c0) as f64 / clock_ticks() / t0.elapsed().as_secs_f64() * 100.0;
    let (t0, c0) = (Instant::now(), cpu_ticks(pid));
    let mut answered = 0;
    let mut k = 0u32;
    while t0.elapsed() < window {
        k += 1;
        answered += usize::from(query(&path, request).is_some());
        let next = Duration::from_millis(10) * k;
        std::thread::sleep(next.saturating_sub(t0.elapsed()));
    }
    let loaded = (cpu_ticks(pid) - c0) as f64 / clock_ticks() / t0.elapsed().as_secs_f64() * 100.0;
    StatusCost {
        median: median(&lat),
        max: lat.iter().copied().max().unwrap_or_default(),
        bytes,
        cpu: [idle, loaded],
        answered,
    }
}

/// The largest advert gap of a 10 ms master while 50 clients ask it as
/// fast as they can: 25 on the control socket, 25 on `/metrics` (from
/// inside R1's namespace).
fn status_hammer(test: &str, net: u8, window: Duration) -> (Capture, usize) {
    let mut b = Bench::new(test, net);
    let target = format!("{}:9650", b.lab.addr(R1));
    let conf = b.lab.config(R1, &high(V3_10MS));
    let a = b.start_with(R1, VIPD, &conf, &["--metrics", &target]);
    b.lab.wait_for(a, MASTER);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut threads = Vec::new();
    for k in 0..50 {
        let (stop, answered) = (stop.clone(), answered.clone());
        let path = b.control_path(R1);
        // Inside R1's namespace the scrapes go over loopback, so the
        // capture on R1's switch port sees the adverts, not a TCP storm.
        let ns = b.lab.ns_path("r1");
        let target = target.clone();
        threads.push(std::thread::spawn(move || {
            if k % 2 == 1 {
                let _ = lab::testkit::enter_path(&ns);
            }
            while !stop.load(Ordering::Relaxed) {
                let ok = if k % 2 == 0 { query(&path, "status json\n").is_some() } else { http_metrics(&target) };
                if ok {
                    answered.fetch_add(1, Ordering::Relaxed);
                } else {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }));
    }
    let cap = capture(&b, R1, window);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    (cap, answered.load(Ordering::Relaxed))
}

/// One `GET /metrics` (the calling thread is in the client's namespace).
fn http_metrics(target: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(addr) = target.parse() else { return false };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(s, "GET /metrics HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out).is_ok() && out.starts_with(b"HTTP/1.1 200")
}

// ---------------------------------------------------------------- figures

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_ms(v: f64) -> String {
    if v < 100.0 { format!("{v:.1} ms") } else { format!("{v:.0} ms") }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 }
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    }
}

/// Whether the median of `trials` is within `bound_ms`.
fn median_within(trials: &Option<Vec<Duration>>, bound_ms: f64) -> Option<bool> {
    trials.as_ref().filter(|v| !v.is_empty()).map(|v| ms(median(v)) <= bound_ms)
}

/// "35.2 ms (34.1–37.0, 3 trials)".
fn fmt_trials(v: &Option<Vec<Duration>>) -> String {
    match v {
        None => "failed".to_owned(),
        Some(v) if v.is_empty() => "—".to_owned(),
        Some(v) if v.len() == 1 => fmt_ms(ms(v[0])),
        Some(v) => {
            let (lo, hi) = (v.iter().min().copied().unwrap_or_default(), v.iter().max().copied().unwrap_or_default());
            format!("{} ({}–{})", fmt_ms(ms(median(v))), fmt_ms(ms(lo)).trim_end_matches(" ms"), fmt_ms(ms(hi)))
        }
    }
}

fn fmt_gap(c: &Capture) -> String {
    let mut s = fmt_ms(ms(c.max_gap()));
    if c.at.len() < 2 {
        s = format!("no adverts ({})", c.at.len());
    }
    if c.drops > 0 {
        let _ = write!(s, " ({} capture drops)", c.drops);
    }
    s
}

fn mib(kib: u64) -> String {
    format!("{:.2} MiB", kib as f64 / 1024.0)
}

/// File size and shared libraries (ldd lines but the vDSO; 0 for a static
/// binary).
fn binary(path: &str) -> (u64, usize) {
    let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let out = Command::new("ldd").arg(path).output();
    let text = out.map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    let text = text.unwrap_or_default();
    let libs = if text.contains("not a dynamic executable") || text.contains("statically linked") {
        0
    } else {
        text.lines().filter(|l| !l.trim().is_empty() && !l.contains("linux-vdso")).count()
    };
    (size, libs)
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs scripts/alloc-check (valgrind DHAT on a 10 ms master) and returns
/// its figure.
fn alloc_check() -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/alloc-check");
    let out = Command::new(&script).stdin(Stdio::null()).output().expect("run scripts/alloc-check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprint!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "scripts/alloc-check failed ({})", out.status);
    let figure = text.lines().find_map(|l| l.strip_prefix("heap allocations per advert sent: "));
    figure.unwrap_or_else(|| panic!("no figure in scripts/alloc-check's output")).trim().to_owned()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

// ------------------------------------------------------------------- probes

/// R1's check of nginx: vipd's `vrrp_probe` at 100 ms, or keepalived's
/// `curl` script at its smallest interval (1 s); both `rise 2 fall 2`,
/// weight -60 (150 → 90, below R2's 100).
fn web_check(kind: Kind) -> &'static str {
    match kind {
        VIPD => {
            "vrrp_probe chk_web {\n    http http://127.0.0.1:8080/healthz\n    interval 0.1\n    timeout 0.05\n    \
             rise 2\n    fall 2\n    weight -60\n}\n"
        }
        KA => {
            "vrrp_script chk_web {\n    script \"/usr/bin/curl -fsS -o /dev/null -m 1 \
             http://127.0.0.1:8080/healthz\"\n    interval 1\n    timeout 1\n    rise 2\n    fall 2\n    weight -60\n}\n"
        }
    }
}

/// One VRRPv3 instance (VRID 51, the lab's VIP, adverts every `advert`)
/// tracking `names`, after the tracker definitions `defs`.
fn checked_config(b: &Bench, defs: &str, names: &[String], priority: u8, advert: &str) -> String {
    let mut s = format!("global_defs {{\n    vrrp_version 3\n}}\n\n{defs}\n");
    let _ = write!(
        s,
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int {advert}\n"
    );
    if !names.is_empty() {
        let _ = writeln!(s, "    track_script {{");
        for n in names {
            let _ = writeln!(s, "        {n}");
        }
        let _ = writeln!(s, "    }}");
    }
    let _ = write!(s, "    virtual_ipaddress {{\n        {}/24\n    }}\n}}\n", b.lab.vip());
    s
}

/// A pair of `kind` (100 ms adverts), R1 checking nginx with
/// [`web_check`]: `trials` times, nginx stopped → the VIP on R2 (polled
/// every few ms), then nginx started and R1 master again. Each trial starts
/// at a different phase of the check's interval.
fn probe_detection(test: &str, net: u8, kind: Kind, trials: usize) -> Vec<Duration> {
    let mut b = Bench::new(test, net);
    let nginx = nginx::Nginx::new(&b.lab).expect("nginx is installed (scripts/test installs it)");
    nginx.start(&mut b.lab, 0);
    let names = ["chk_web".to_owned()];
    let conf = checked_config(&b, web_check(kind), &names, 150, "0.1");
    b.start(R1, kind, &conf);
    let conf = checked_config(&b, "", &[], 100, "0.1");
    b.start(R2, kind, &conf);
    let mut out = Vec::new();
    for t in 0..trials {
        b.lab.converges_on(R1, Duration::from_secs(3));
        // Golden-ratio steps through the 1 s interval of keepalived's check.
        std::thread::sleep(Duration::from_millis((t as u64 * 618) % 1000));
        let t0 = Instant::now();
        nginx.stop();
        while !b.lab.holds_vip(R2) || b.lab.holds_vip(R1) {
            assert!(t0.elapsed() < lab::TIMEOUT, "{test}: the VIP did not move\n{}", b.lab.status());
            std::thread::sleep(Duration::from_millis(2));
        }
        out.push(t0.elapsed());
        eprintln!("bench: {test}: trial {}: {:.0} ms", t + 1, ms(t0.elapsed()));
        nginx.start(&mut b.lab, t as u32 + 1);
    }
    nginx.stop();
    out
}

struct ProbeCost {
    /// % of one core: the master running the probes.
    cpu: f64,
    /// Processes started in vipd's own pid namespace, per second.
    forks: f64,
    /// Requests nginx answered per second during the window.
    requests: f64,
    /// The same checks from a bare loop of blocking syscalls
    /// (`probe_floor`), after vipd stopped.
    floor: Result<probe_floor::Floor, String>,
}

/// Processes `pid` started: the last pid of its own pid namespace, read by
/// a process entering it (which takes one pid itself).
fn ns_last_pid(pid: u32) -> u64 {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-p", "cat", "/proc/sys/kernel/ns_last_pid"])
        .output()
        .expect("run nsenter");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| panic!("ns_last_pid: {out:?}"))
}

/// A vipd master (1 s adverts) running 100 `vrrp_probe`s of nginx every
/// 100 ms (staggered; 1,000 HTTP requests a second), as process 1 of a pid
/// namespace of its own so that every process it starts is counted: its
/// CPU over `window`, and the processes started meanwhile.
fn probe_cost(test: &str, net: u8, window: Duration, http: bool) -> ProbeCost {
    let mut b = Bench::new(test, net);
    let nginx = nginx::Nginx::new(&b.lab).expect("nginx is installed (scripts/test installs it)");
    nginx.start(&mut b.lab, 0);
    let names: Vec<String> = (0..100).map(|i| format!("chk{i}")).collect();
    let mut defs = String::new();
    for n in &names {
        let _ = writeln!(
            defs,
            "vrrp_probe {n} {{\n    {}\n    interval 0.1\n    timeout 0.05\n    weight -1\n}}",
            if http { "http http://127.0.0.1:8080/healthz" } else { "tcp 127.0.0.1:8080" }
        );
    }
    let conf = checked_config(&b, &defs, &names, 200, "1");
    let mut wrapper = vec!["unshare", "--pid", "--fork", "--kill-child"];
    let bin = vipd_bin();
    let script = "bin=$1; shift 3; exec \"$bin\" \"$@\"";
    if let Some(bin) = &bin {
        // unshare … sh -c SCRIPT sh BIN -- LAB'S-VIPD ARGS: BIN in its place.
        wrapper.extend(["sh", "-c", script, "sh", bin, "--"]);
    }
    let a = b.lab.start_vipd_wrapped(R1, &conf, &wrapper);
    b.lab.wait_for(a, MASTER);
    let run = b.dir().join("run");
    let marker = run.join("r1.pid").display().to_string();
    let pid = procs_with(&marker)
        .into_iter()
        .find(|p| fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "vipd"))
        .unwrap_or_else(|| panic!("{test}: vipd's pid not found"));
    std::thread::sleep(Duration::from_secs(2));
    // From inside its pid namespace: vipd's control socket refuses a peer
    // whose pid it cannot see (SO_PEERCRED gives 0).
    let status = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-p", env!("CARGO_BIN_EXE_vipd"), "status", "--control"])
        .arg(run.join("r1.sock"))
        .output()
        .expect("vipd status");
    let text = String::from_utf8_lossy(&status.stdout);
    let want = if http { "HTTP 200" } else { "connected" };
    let ok = text.lines().filter(|l| l.contains(" probe ") && l.contains(want)).count();
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(ok >= 100, "{test}: {ok} probes report {want}\n{text}{err}");
    let requests = || fs::read_to_string(nginx.access_log()).map_or(0, |s| s.lines().count());
    // The status query above started a process in the namespace: counted
    // from here.
    let (t0, c0, p0, r0) = (Instant::now(), cpu_ticks(pid), ns_last_pid(pid), requests());
    std::thread::sleep(window);
    let (elapsed, c1, p1, r1) = (t0.elapsed().as_secs_f64(), cpu_ticks(pid), ns_last_pid(pid), requests());
    // The lab's handle is the pid-namespace wrapper, which does not pass
    // SIGTERM on: stop vipd itself, so the floor runs alone.
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let gone = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && gone.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let floor = probe_floor::measure(&b.lab.ns_path("r1"), 8080, http, 1000, window);
    nginx.stop();
    ProbeCost {
        cpu: (c1 - c0) as f64 / clock_ticks() / elapsed * 100.0,
        // The second reader took one pid itself.
        forks: p1.saturating_sub(p0 + 1) as f64 / elapsed,
        requests: (r1 - r0) as f64 / elapsed,
        floor,
    }
}

/// The `vrrp_probe` rows: detection time next to keepalived's script, and
/// the cost of 100 probes.
fn probe_rows(plan: &Plan, rep: &mut Report, next_net: &mut dyn FnMut() -> u8) {
    let mut res = Vec::new();
    for kind in [KA, VIPD] {
        let test = format!("prbdet-{}", &kind_name(kind)[..2]);
        let what = format!("detection, nginx stopped, {} pair, {} trials", kind_name(kind), plan.trials_v3);
        let n = next_net();
        res.push(rep.attempt(&what, || probe_detection(&test, n, kind, plan.trials_v3)));
    }
    let vipd_ms = res[1].as_ref().map(|v| ms(median(v)));
    rep.row(
        "detection, nginx stopped → VIP on the backup, v3 100 ms pair; keepalived: curl script every 1 s, vipd: \
         vrrp_probe every 100 ms; rise/fall 2",
        fmt_trials(&res[0]),
        fmt_trials(&res[1]),
        "≤ 1 s (2 probes + 3 adverts + skew ≈ 0.56 s)",
        vipd_ms.map(|m| m <= 1000.0),
    );
    for http in [true, false] {
        let n = next_net();
        let (test, what) = if http { ("prbcost", "http") } else { ("prbcost-tcp", "tcp") };
        let cost = rep.attempt(&format!("100 {what} probes at 100 ms"), || probe_cost(test, n, plan.window, http));
        let conns = |c: &ProbeCost| {
            if http { format!("{:.0} HTTP requests/s answered", c.requests) } else { "1000 connects/s".to_owned() }
        };
        let (cpu, forks) = match &cost {
            Some(c) => {
                let floor = match &c.floor {
                    Ok(f) => format!("{:.2} %, {:.0} checks/s, {} answered", f.cpu, f.rate, f.answered),
                    Err(e) => format!("failed: {e}"),
                };
                (
                    format!("{:.2} % ({}); floor, bare blocking sockets: {floor}", c.cpu, conns(c)),
                    format!("{:.1} ({})", c.forks, conns(c)),
                )
            }
            None => ("failed".to_owned(), "failed".to_owned()),
        };
        let met = cost.as_ref().map(|c| c.cpu <= 2.0);
        let label = format!("CPU % of a core, 100 vrrp_probe {what} checks × 100 ms, master");
        rep.row(&label, "—".to_owned(), cpu, "≤ 2 %", met);
        let met = cost.as_ref().map(|c| c.forks == 0.0);
        let label = format!("processes started per second by vipd while probing ({what})");
        rep.row(&label, "—".to_owned(), forks, "0", met);
    }
}

// ------------------------------------------------------------------- bench

#[test]
#[ignore = "benchmark: scripts/bench runs it (root, about 6 minutes)"]
fn bench() {
    if !is_root() {
        println!("skipping the benchmark: needs root (network namespaces)");
        return;
    }
    let plan = Plan::from_env();
    let started = Instant::now();
    let mut rep = Report::default();
    let kinds = [KA, VIPD];
    // Every lab its own subnet 10.N.0.0/24, N from 200 up.
    let mut net = 200u8;
    let mut next_net = || {
        net += 1;
        net
    };

    for (proto, label) in [(V3_10MS, "v3 10 ms"), (Vrrp::V2, "v2 1 s")] {
        if plan.runs("outage") || plan.runs(&format!("outage-v{}", proto.version)) {
            let mut res = Vec::new();
            for kind in kinds {
                let test = format!("out{}-{}", proto.version, &kind_name(kind)[..2]);
                let trials = if proto.version == 3 { plan.trials_v3 } else { plan.trials };
                let what = format!("outages {label}, {} pair, {trials} trials", kind_name(kind));
                let n = next_net();
                res.push(rep.attempt(&what, || outages(&test, n, kind, proto, trials)));
            }
            let cable = |i: usize| fmt_trials(&res[i].as_ref().map(|r| r.0.clone()));
            let graceful = |i: usize| fmt_trials(&res[i].as_ref().map(|r| r.1.clone()));
            let lo = low(proto);
            let (silent, skew) = (ms(lo.takeover_silent()), ms(lo.takeover_prio0()));
            let t_cable = format!("≤ {} (3 adverts + skew {} + 5 ms)", fmt_ms(silent + 5.0), fmt_ms(silent));
            let t_graceful = format!("≤ {} (skew {} + 10 ms)", fmt_ms(skew + 10.0), fmt_ms(skew));
            let vipd = res[1].as_ref();
            let met_cable = median_within(&vipd.map(|r| r.0.clone()), silent + 5.0);
            let met_graceful = median_within(&vipd.map(|r| r.1.clone()), skew + 10.0);
            rep.row(&format!("failover outage, cable pulled, {label}"), cable(0), cable(1), &t_cable, met_cable);
            let label = format!("graceful handover (SIGTERM), {label}, backup prio 100");
            rep.row(&label, graceful(0), graceful(1), &t_graceful, met_graceful);
        }
    }

    if plan.runs("footprint") {
        let mut idle_gap = Vec::new();
        for (n, advert, label) in
            [(1, "0.01", "1 instance × 10 ms"), (50, "0.01", "50 × 10 ms"), (255, "1", "255 × 1 s")]
        {
            let mut res = Vec::new();
            for kind in kinds {
                let test = format!("fp{n}-{}", &kind_name(kind)[..2]);
                let what = format!("CPU and memory, {label}, {}", kind_name(kind));
                let net = next_net();
                let floor = n == 50 && kind == VIPD;
                let f = rep.attempt(&what, || footprint(&test, net, kind, (n, advert), plan.window, (n == 1, floor)));
                if let Some(f) = &f {
                    if f.backup_masters > 0 {
                        eprintln!("bench: {what}: the backup took over {} instances in the window", f.backup_masters);
                    }
                }
                res.push(f);
            }
            let cpu = |i: usize| match &res[i] {
                Some(f) => {
                    let floor = match &f.floor {
                        Some(Ok(v)) => {
                            format!("; master's floor, a bare raw-socket sender of the same adverts: {v:.1} %")
                        }
                        Some(Err(e)) => format!("; floor failed: {e}"),
                        None => String::new(),
                    };
                    format!("{:.1} % / {:.1} %{floor}", f.cpu[0], f.cpu[1])
                }
                None => "failed".to_owned(),
            };
            let rss = |i: usize| match &res[i] {
                Some(f) => format!("{} / {}", mib(f.rss_kib[0]), mib(f.rss_kib[1])),
                None => "failed".to_owned(),
            };
            let t_cpu = if n == 50 { "master ≤ 5 %" } else { "—" };
            let t_rss = if n == 1 { "≤ 1.5 MiB" } else { "—" };
            let vipd = res[1].as_ref();
            let met_cpu = vipd.filter(|_| n == 50).map(|f| f.cpu[0] <= 5.0);
            let met_rss = vipd.filter(|_| n == 1).map(|f| f.rss_kib.iter().all(|&k| k <= 1536));
            rep.row(&format!("CPU % of a core, {label}, master / backup"), cpu(0), cpu(1), t_cpu, met_cpu);
            rep.row(&format!("resident memory, {label}, master / backup"), rss(0), rss(1), t_rss, met_rss);
            if n == 1 {
                idle_gap = res.iter().map(|f| f.as_ref().and_then(|f| f.gap.as_ref()).map(fmt_gap)).collect();
            }
        }
        let g = |i: usize| idle_gap.get(i).cloned().flatten().unwrap_or_else(|| "failed".to_owned());
        rep.row("largest advert gap, v3 10 ms, idle", g(0), g(1), "—", None);
    }

    if plan.runs("gap") {
        for (checks, label, tag) in [
            (Checks::Burst, "200 check scripts/s", "burst"),
            (Checks::Hang, "50 checks hanging until their 1 s timeout", "hang"),
        ] {
            let (mut cells, mut met) = (Vec::new(), None);
            for kind in kinds {
                // Several runs: one run's largest gap varied by 2× from run to
                // run; the row gives the largest of all and each run's.
                let mut runs = Vec::new();
                for run in 1..=plan.gap_runs {
                    let test = format!("{tag}{run}-{}", &kind_name(kind)[..2]);
                    let what = format!("advert gap, {label}, {}, run {run} of {}", kind_name(kind), plan.gap_runs);
                    let net = next_net();
                    let Some(g) = rep.attempt(&what, || script_gap(&test, net, kind, checks, plan.capture)) else {
                        continue;
                    };
                    eprintln!(
                        "bench: {what}: largest gap {}, {:.0} processes started per second on the machine",
                        fmt_gap(&g.capture),
                        g.forks
                    );
                    if checks == Checks::Hang {
                        let (hanging, left) = (g.hanging, g.leftover);
                        eprintln!("bench: {what}: {hanging} hanging while it ran, {left} left after it stopped");
                    }
                    runs.push(g);
                }
                let mut cell = fmt_script_gaps(&runs, plan.gap_runs, checks);
                if kind == VIPD {
                    let ok = runs.len() == plan.gap_runs
                        && runs.iter().all(|g| g.capture.at.len() >= 2 && g.capture.drops == 0 && g.left_master == 0);
                    let largest = runs.iter().map(|g| g.capture.max_gap()).max().unwrap_or_default();
                    met = Some(ok && ms(largest) <= 12.0);
                    // As many runs of the floor, the largest of them.
                    let mut floor = Vec::new();
                    for run in 1..=plan.gap_runs {
                        let test = format!("{tag}{run}-fl");
                        let net = next_net();
                        match script_gap_floor(&test, net, checks, plan.capture) {
                            Ok(c) => floor.push(ms(c.max_gap())),
                            Err(e) => eprintln!("bench: advert gap floor, {label}, run {run}: {e}"),
                        }
                    }
                    let each: Vec<_> = floor.iter().map(|g| format!("{g:.1}")).collect();
                    let worst = floor.iter().copied().fold(0.0, f64::max);
                    let _ = write!(
                        cell,
                        "; floor, a bare SCHED_RR sender beside the same processes: {} ({} runs: {})",
                        if floor.is_empty() { "failed".to_owned() } else { format!("{worst:.1} ms") },
                        floor.len(),
                        each.join(", ")
                    );
                }
                cells.push(cell);
            }
            let target = if checks == Checks::Burst { "≤ 12 ms" } else { "≤ 12 ms (as with 200 scripts/s)" };
            let (k, v) = (cells[0].clone(), cells[1].clone());
            rep.row(&format!("largest advert gap, v3 10 ms, {label}"), k, v, target, met);
        }
    }

    if plan.runs("load") {
        let (mut cells, mut met) = (Vec::new(), None);
        for kind in kinds {
            let test = format!("load-{}", &kind_name(kind)[..2]);
            let what = format!("false failovers under 32 busy loops, {}", kind_name(kind));
            let net = next_net();
            cells.push(match rep.attempt(&what, || false_failovers(&test, net, kind, plan.load)) {
                Some(l) => {
                    if kind == VIPD {
                        met = Some(l.failovers == 0 && l.master_left == 0);
                    }
                    let mut s = format!("{} (largest gap {}", l.failovers, fmt_gap(&l.capture));
                    if l.master_left > 0 {
                        let _ = write!(s, "; R1 left MASTER {}×", l.master_left);
                    }
                    s + ")"
                }
                None => "failed".to_owned(),
            });
        }
        let label = format!("false failovers, v3 10 ms pair, 32 busy loops for {} s", plan.load.as_secs());
        let (k, v) = (cells[0].clone(), cells[1].clone());
        rep.row(&label, k, v, "0", met);
    }

    if plan.runs("flood") {
        let (rate, period) = (50_000, plan.window);
        let (mut cells, mut met) = (Vec::new(), None);
        for kind in kinds {
            let test = format!("flood-{}", &kind_name(kind)[..2]);
            let what = format!("lower-priority flood, {}", kind_name(kind));
            let net = next_net();
            cells.push(match rep.attempt(&what, || flood(&test, net, kind, rate, period)) {
                Some(f) => {
                    if kind == VIPD {
                        met = Some(
                            f.adverts_per_s <= 2.0 * f.idle_per_s
                                && f.gap <= Duration::from_millis(200)
                                && f.takeovers == 0,
                        );
                    }
                    format!(
                        "{:.0} adverts/s (idle {:.0}), {:.0} ARPs/s, largest gap {}, {} takeovers (flood {:.0} k/s got out)",
                        f.adverts_per_s,
                        f.idle_per_s,
                        f.arps_per_s,
                        fmt_ms(ms(f.gap)),
                        f.takeovers,
                        f.sent_per_s / 1000.0
                    )
                }
                None => "failed".to_owned(),
            });
        }
        let label = format!("flood of 50 k/s priority-50 adverts for {} s, v3 100 ms master", period.as_secs());
        let (k, v) = (cells[0].clone(), cells[1].clone());
        rep.row(&label, k, v, "sent ≤ 2× idle, gap ≤ 200 ms, 0 takeovers", met);
    }

    if plan.runs("arpflood") {
        let (rate, period) = (20_000, plan.window);
        let mut cells = Vec::new();
        for kind in kinds {
            let test = format!("arpfl-{}", &kind_name(kind)[..2]);
            let what = format!("ARP flood, {}", kind_name(kind));
            let net = next_net();
            cells.push(match rep.attempt(&what, || arp_flood(&test, net, kind, rate, period)) {
                Some(f) => format!(
                    "CPU {:.1} % (idle {:.1} %), largest gap {}, {} takeovers (flood {:.1} k/s got out)",
                    f.cpu,
                    f.idle_cpu,
                    fmt_gap(&f.gap),
                    f.takeovers,
                    f.sent_per_s / 1000.0
                ),
                None => "failed".to_owned(),
            });
        }
        let label = format!(
            "ARP flood {} k pps on the link (GARPs claiming the VIP) for {} s, v3 10 ms master: CPU, largest advert gap",
            rate / 1000,
            period.as_secs()
        );
        let (k, v) = (cells[0].clone(), cells[1].clone());
        rep.row(&label, k, v, "—", None);
    }

    if plan.runs("status") {
        let what = "status queries, 255 instances";
        let net = next_net();
        let cell = match rep.attempt(what, || status_cost("status-q", net, plan.window)) {
            Some(c) => {
                let met = c.median < Duration::from_millis(5) && c.cpu[1] - c.cpu[0] < 1.0;
                let v = format!(
                    "{} median, {} max ({} B); CPU {:.1} % idle, {:.1} % at 100 queries/s ({} answered)",
                    fmt_ms(ms(c.median)),
                    fmt_ms(ms(c.max)),
                    c.bytes,
                    c.cpu[0],
                    c.cpu[1],
                    c.answered
                );
                (v, Some(met))
            }
            None => ("failed".to_owned(), None),
        };
        rep.row(
            "status --json, 255 × 1 s master: answer time; CPU at 100 queries/s",
            "— (no live query)".to_owned(),
            cell.0,
            "< 5 ms; < 1 % of a core over idle",
            cell.1,
        );
        let what = "advert gap under 50 status clients";
        let net = next_net();
        let cell = match rep.attempt(what, || status_hammer("status-h", net, plan.capture)) {
            Some((cap, n)) => {
                let met = cap.max_gap() <= Duration::from_millis(12);
                (format!("{} ({n} answers)", fmt_gap(&cap)), Some(met))
            }
            None => ("failed".to_owned(), None),
        };
        rep.row(
            "largest advert gap, v3 10 ms, 50 clients on the control socket and /metrics",
            "—".to_owned(),
            cell.0,
            "≤ 12 ms",
            cell.1,
        );
    }

    if plan.runs("reload") {
        for (what, label, tag) in [
            (Reload::OneOfThousand, "1,000 instances, one changed", "r1k"),
            (Reload::Excluded40k, "40,000 excluded addresses added (valid)", "rexc"),
            (Reload::Vips40k, "40,000 virtual_ipaddress lines (vipd refuses them)", "rvip"),
        ] {
            let (mut cells, mut met) = (Vec::new(), None);
            for kind in kinds {
                let test = format!("{tag}-{}", &kind_name(kind)[..2]);
                let name = format!("advert gap over a SIGHUP, {label}, {}", kind_name(kind));
                let net = next_net();
                cells.push(match rep.attempt(&name, || reload_gap(&test, net, kind, what)) {
                    Some(g) => {
                        let gap = g.capture.max_gap().max(g.trailing);
                        if kind == VIPD {
                            met = Some(
                                g.capture.drops == 0
                                    && gap <= V3_50MS.advert * 3
                                    && g.takeovers == 0
                                    && g.outcome.is_some(),
                            );
                            eprintln!("bench: {name}: {}", g.outcome.as_deref().unwrap_or("the reload did not end"));
                        }
                        let mut s = fmt_ms(ms(gap));
                        if g.capture.drops > 0 {
                            let _ = write!(s, " ({} capture drops)", g.capture.drops);
                        }
                        if g.trailing > g.capture.max_gap() {
                            s += " (still silent at the end)";
                        }
                        let _ = write!(s, ", {} takeovers", g.takeovers);
                        s
                    }
                    None => "failed".to_owned(),
                });
            }
            let (k, v) = (cells[0].clone(), cells[1].clone());
            let row = format!("largest advert gap over a SIGHUP, v3 50 ms master: {label}");
            rep.row(&row, k, v, "≤ 150 ms (3 adverts), 0 takeovers", met);
        }
    }

    if plan.runs("probe") {
        probe_rows(&plan, &mut rep, &mut next_net);
    }

    if plan.runs("smtp") {
        smtp::rows(&plan, &mut rep, &mut next_net);
    }

    if plan.runs("trackproc") {
        let mut res = Vec::new();
        for kind in kinds {
            let test = format!("tproc-{}", &kind_name(kind)[..2]);
            let what = format!("track_process detection, {}, {} trials", kind_name(kind), plan.trials_v3);
            let net = next_net();
            res.push(rep.attempt(&what, || process_detection(&test, net, kind, plan.trials_v3)));
        }
        let silent = ms(low(V3_10MS).takeover_silent());
        let met = median_within(&res[1], silent + 10.0);
        rep.row(
            "process killed → VIP on the peer, v3 10 ms pair, R1 −60 without the process",
            format!(
                "{} (script `killall -0` every 1 s; its track_process cannot subscribe inside a network namespace)",
                fmt_trials(&res[0])
            ),
            format!("{} (vrrp_track_process)", fmt_trials(&res[1])),
            &format!("≤ {} (3 adverts + skew {} + 10 ms)", fmt_ms(silent + 10.0), fmt_ms(silent)),
            met,
        );
    }

    if plan.runs("vmac") {
        vmac::run(&mut rep, &plan, &mut next_net);
    }

    if plan.runs("upgrade") {
        let mut cells = Vec::new();
        let mut met = None;
        for kind in kinds {
            let test = format!("upg-{}", &kind_name(kind)[..2]);
            let name = format!("10 ms master upgraded in place / restarted, {}", kind_name(kind));
            let net = next_net();
            cells.push(match rep.attempt(&name, || upgrade_gap(&test, net, kind)) {
                Some(u) => {
                    let outages: Vec<String> = u.outages.iter().map(|&o| fmt_ms(ms(o))).collect();
                    let worst = u.outages.iter().copied().max().unwrap_or_default();
                    let mut s = if kind == VIPD {
                        let gap = u.capture.max_gap();
                        met = Some(
                            u.capture.drops == 0
                                && gap <= V3_10MS.advert * 2
                                && worst <= PING_INTERVAL * 2
                                && u.takeovers == 0,
                        );
                        format!(
                            "{} upgrades: advert gap {}, longest reply gap {}, {} takeovers",
                            UPGRADES,
                            fmt_ms(ms(gap)),
                            fmt_ms(ms(u.longest)),
                            u.takeovers
                        )
                    } else {
                        format!(
                            "restart: outages {}, VIP moved {} times",
                            if outages.is_empty() { "none".to_owned() } else { outages.join(" + ") },
                            u.takeovers * 2
                        )
                    };
                    if u.capture.drops > 0 {
                        let _ = write!(s, " ({} capture drops)", u.capture.drops);
                    }
                    s
                }
                None => "failed".to_owned(),
            });
        }
        let (k, v) = (cells[0].clone(), cells[1].clone());
        rep.row(
            "upgrade of a v3 10 ms master (vipd upgrade; keepalived: stop + start), client pinging every 5 ms",
            k,
            v,
            "advert gap ≤ 20 ms (2 adverts), reply gap ≤ 10 ms (no ping lost), 0 takeovers",
            met,
        );
    }

    let mut notes = Vec::new();
    if plan.runs("scale") {
        scale::scale(&plan, &mut rep, &mut next_net);
    }

    if plan.runs("size") {
        let bin = std::env::var("VIPD_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vipd").to_owned());
        let note = std::env::var("VIPD_BENCH_BIN_NOTE").unwrap_or_default();
        let (ks, kl) = binary("/usr/sbin/keepalived");
        let (vs, vl) = binary(&bin);
        let mut v = format!("{vs} B ({:.2} MiB)", vs as f64 / 1048576.0);
        if !note.is_empty() {
            let _ = write!(v, " {note}");
        }
        // The report is committed to the README: name the binary relative to
        // the repository, not by one machine's absolute build path.
        let shown = Path::new(&bin)
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .map_or_else(|_| bin.clone(), |p| p.display().to_string());
        notes.push(format!("vipd binary (every row but heap allocations): `{shown}`"));
        let ks = format!("{ks} B ({:.2} MiB)", ks as f64 / 1048576.0);
        rep.row("binary size", ks, v, "static, stripped, ≤ 1 MiB", Some(note.is_empty() && vs <= 1 << 20));
        rep.row("shared libraries (ldd, without the vDSO)", kl.to_string(), vl.to_string(), "0", Some(vl == 0));
    }

    if plan.runs("alloc") {
        let what = "heap allocations per advert (scripts/alloc-check)";
        let valgrind = Command::new("sh").args(["-c", "command -v valgrind"]).output();
        let cell = if valgrind.is_ok_and(|o| o.status.success()) {
            rep.attempt(what, alloc_check).unwrap_or_else(|| "failed".to_owned())
        } else {
            eprintln!("bench: {what}: valgrind is not installed, not measured");
            "not measured (no valgrind)".to_owned()
        };
        let met = cell.parse::<f64>().ok().map(|a| a < 0.005);
        rep.row("heap allocations per advert sent, steady state", "—".to_owned(), cell, "0", met);
        notes.push(
            "heap allocations: `scripts/alloc-check`, the glibc debug build under valgrind DHAT (valgrind cannot \
             replace a static binary's malloc), divided by the packets the master's interface sent"
                .to_owned(),
        );
    }

    let elapsed = started.elapsed();
    let mut t = String::new();
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1)).unwrap_or("?").trim();
    let cores = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let kernel = command_line("uname", &["-r"]);
    let manifest = env!("CARGO_MANIFEST_DIR");
    let rev = command_line("git", &["-C", manifest, "describe", "--always", "--dirty"]);
    let ka = command_line("sh", &["-c", "keepalived -v 2>&1 | head -n 1"]);
    let _ = writeln!(t, "vipd benchmark (scripts/bench), {date}");
    let _ = writeln!(t);
    let _ = writeln!(t, "- machine: {model}, {cores} cores, Linux {kernel}");
    let _ = writeln!(t, "- vipd {} ({rev}), {ka}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        t,
        "- outages: median (min–max) of {} trials at 10 ms, {} at 1 s; a client pinging the VIP every 5 ms, \
         longest time between replies (so in 5 ms steps); CPU over {} s; advert gaps over {} s (kernel time stamps \
         on the master's switch port)",
        plan.trials_v3,
        plan.trials,
        plan.window.as_secs(),
        plan.capture.as_secs()
    );
    if plan.runs("gap") {
        notes.push(
            "forks/s in the check-script rows: processes started on the whole machine during the capture (the \
             scripts' runs, plus whatever else ran)"
                .to_owned(),
        );
    }
    for n in &notes {
        let _ = writeln!(t, "- {n}");
    }
    let total = std::env::var("VIPD_BENCH_START").ok().and_then(|s| s.trim().parse::<u64>().ok()).map(|t0| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        format!(", {} s with the builds", now.saturating_sub(t0))
    });
    let _ = writeln!(t, "- run time: {:.0} s measuring{}", elapsed.as_secs_f64(), total.unwrap_or_default());
    let _ = writeln!(t);
    // The reference is keepalived 2.2.7 (design.md); say which one ran.
    let ka_version = ka.split_whitespace().nth(1).map_or("?", |v| v.trim_start_matches('v'));
    let _ = writeln!(t, "| measure | keepalived {ka_version} | vipd | target | met |");
    let _ = writeln!(t, "| --- | --- | --- | --- | --- |");
    for r in &rep.rows {
        let _ = writeln!(t, "| {} | {} | {} | {} | {} |", r.measure, r.keepalived, r.vipd, r.target, verdict(r.met));
    }
    if !rep.missed.is_empty() {
        let _ = writeln!(t, "\nBudget lines missed:");
        for m in &rep.missed {
            let _ = writeln!(t, "- {m}");
        }
    }
    if !rep.failed.is_empty() {
        let _ = writeln!(t, "\nFailed measurements:");
        for f in &rep.failed {
            let _ = writeln!(t, "- {f}");
        }
    }
    match std::env::var_os("VIPD_BENCH_OUT") {
        Some(path) => fs::write(&path, &t).expect("write $VIPD_BENCH_OUT"),
        None => print!("{t}"),
    }
    assert!(rep.failed.is_empty(), "{} measurement(s) failed: {:?}", rep.failed.len(), rep.failed);
    assert!(rep.missed.is_empty(), "{} budget line(s) missed: {:?}", rep.missed.len(), rep.missed);
}
