//! The lab for the real-network tests (`tests/netns.rs`): network namespaces,
//! a bridge, vipd and keepalived for real. std only; everything it starts
//! goes through `ip`, `ping` and `sh`.
//!
//! ```text
//!            switch namespace (SW): bridge br0
//!          port r1        port r2        port c
//!             │              │              │  (veth pairs)
//!   R1 eth0 10.N.0.1   R2 eth0 10.N.0.2   C eth0 10.N.0.10      VIP 10.N.0.100
//! ```
//!
//! Namespace names are `vipd-<pid>-<test>-{sw,r1,r2,c}`, so tests can run in
//! parallel and never touch anything they did not create. Every test has its
//! own subnet N (cosmetic: the labs are isolated from each other anyway).
//! The [`Lab`] guard kills every process it started (SIGTERM, then SIGKILL,
//! by pid) and deletes every namespace it created, on panic too (they are
//! [`NetNs`] values of the shared test kit, `src/sys/testkit.rs`). Processes
//! stay in the test's process group, so Ctrl-C on `cargo test` stops them
//! as well; the next run deletes the namespaces such a run left behind.

// Public, so the suites that include this lab reach `skip` through it.
#[path = "../../src/sys/testkit.rs"]
#[allow(dead_code)]
pub mod testkit;
use testkit::NetNs;

use std::ffi::CString;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long to wait for anything that should happen (a log line, an
/// address): generous, these tests assert behaviour, not timing.
pub const TIMEOUT: Duration = Duration::from_secs(15);

const VIPD: &str = env!("CARGO_BIN_EXE_vipd");
const VRID: u8 = 51;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Router {
    R1,
    R2,
    /// A third router at 10.N.0.3, only after [`Lab::add_router`]; its
    /// unicast peer is R1.
    R3,
}

impl Router {
    pub fn other(self) -> Router {
        match self {
            Router::R1 => Router::R2,
            Router::R2 | Router::R3 => Router::R1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Router::R1 => "r1",
            Router::R2 => "r2",
            Router::R3 => "r3",
        }
    }

    fn host(self) -> u8 {
        match self {
            Router::R1 => 1,
            Router::R2 => 2,
            Router::R3 => 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vipd,
    Keepalived,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Vipd => "vipd",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// One VRRP instance, rendered as keepalived.conf (which both daemons read).
#[derive(Clone, Copy, Debug)]
pub struct Vrrp {
    pub version: u8,
    pub advert: Duration,
    pub priority: u8,
    /// `state MASTER` (a hint below priority 255) or `state BACKUP`.
    pub master: bool,
    pub nopreempt: bool,
    /// `unicast_src_ip` + `unicast_peer` (the other router) instead of
    /// multicast.
    pub unicast: bool,
    /// The cloud HA-VIP settings: `garp_master_delay 1`,
    /// `garp_master_refresh 5`.
    pub havip_garp: bool,
    pub vip_prefix: u8,
}

impl Vrrp {
    /// VRRPv2 with keepalived's default 1 s adverts.
    pub const V2: Vrrp = Vrrp {
        version: 2,
        advert: Duration::from_secs(1),
        priority: 100,
        master: false,
        nopreempt: false,
        unicast: false,
        havip_garp: false,
        vip_prefix: 24,
    };

    /// VRRPv3 with 100 ms adverts.
    pub const V3: Vrrp = Vrrp { version: 3, advert: Duration::from_millis(100), ..Vrrp::V2 };

    /// Skew_Time of this router as a backup (keepalived-reference §2.2): v2
    /// (256 − prio)/256 s whatever the interval, v3 scaled by the interval.
    pub fn skew(&self) -> Duration {
        let base = if self.version == 2 { Duration::from_secs(1) } else { self.advert };
        base * (256 - u32::from(self.priority)) / 256
    }

    /// Master_Down_Interval: 3 adverts + skew.
    pub fn master_down(&self) -> Duration {
        self.advert * 3 + self.skew()
    }

    /// The takeover after a priority-0 advert (graceful stop): the skew.
    pub fn takeover_prio0(&self) -> Duration {
        self.skew()
    }

    /// The takeover after the master fell silent (cable pulled, SIGKILL).
    pub fn takeover_silent(&self) -> Duration {
        self.master_down()
    }
}

/// The bound the tests put on a client's outage: twice the protocol's
/// takeover time plus 200 ms.
pub fn outage_bound(takeover: Duration) -> Duration {
    takeover * 2 + Duration::from_millis(200)
}

/// A daemon started on a router.
#[derive(Clone, Copy, Debug)]
pub struct Daemon {
    idx: usize,
    pub router: Router,
    pub kind: Kind,
}

/// A ping from the client to the VIP every 10 ms.
pub struct Pinger {
    idx: usize,
    out: PathBuf,
}

/// `ip monitor address` on a router.
pub struct Monitor {
    idx: usize,
    out: PathBuf,
}

struct Proc {
    what: String,
    child: Child,
    status: Option<ExitStatus>,
    /// The daemon's stdout + stderr.
    log: Option<PathBuf>,
    /// keepalived's VRRP child writes its pid here.
    child_pid_file: Option<PathBuf>,
    /// Byte offset in `log` up to which [`Lab::wait_for`] has matched.
    cursor: usize,
}

pub struct Lab {
    test: String,
    /// The third byte of every address: 10.N.0.x.
    pub net: u8,
    prefix: String,
    dir: PathBuf,
    /// Deleted in reverse order by [`Lab`]'s Drop, after every process.
    namespaces: Vec<NetNs>,
    procs: Vec<Proc>,
    starts: usize,
}

fn command_exists(cmd: &str) -> bool {
    Command::new("sh").args(["-c", "command -v \"$1\" >/dev/null", "sh", cmd]).status().is_ok_and(|s| s.success())
}

/// `kill -s SIG -- PID` through the shell's builtin (no procps needed).
fn signal(sig: &str, target: &str) {
    let _ = Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\" 2>/dev/null", "sh", sig, target])
        .stdin(Stdio::null())
        .status();
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Lab {
    /// Builds the lab for `test` (a short name: it goes in namespace names)
    /// on subnet 10.`net`.0.0/24, or prints why it cannot and returns None.
    pub fn new(test: &str, net: u8) -> Option<Lab> {
        // The switch first: when it cannot be made, the test skips.
        let sw = NetNs::new(&format!("{test}-sw"))?;
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("vipd-netns-{pid}-{test}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create the test directory");
        let mut lab = Lab {
            test: test.to_owned(),
            net,
            prefix: format!("vipd-{pid}-{test}-"),
            dir,
            namespaces: Vec::new(),
            procs: Vec::new(),
            starts: 0,
        };
        assert_eq!(sw.name(), lab.ns("sw"), "NetNs names are vipd-<pid>-<tag>");
        lab.namespaces.push(sw);
        let sw = lab.ns("sw");
        lab.ip(&["-n", &sw, "link", "set", "lo", "up"]);
        lab.ip(&["-n", &sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"]);
        lab.ip(&["-n", &sw, "link", "set", "br0", "up"]);
        for (host, port) in [("r1", 1u8), ("r2", 2), ("c", 10)] {
            lab.plug(host, port);
        }
        Some(lab)
    }

    /// Adds router `r` (R3, which [`Lab::new`] does not make) to the switch.
    #[allow(dead_code)]
    pub fn add_router(&mut self, r: Router) {
        self.plug(r.name(), r.host());
    }

    /// A host namespace with eth0 at 10.N.0.`port` on the switch's port
    /// `host`.
    fn plug(&mut self, host: &str, port: u8) {
        let netns = NetNs::add(&format!("{}-{host}", self.test)).unwrap_or_else(|e| panic!("ip netns add: {e}"));
        self.namespaces.push(netns);
        let (ns, sw) = (self.ns(host), self.ns("sw"));
        self.ip(&["-n", &ns, "link", "set", "lo", "up"]);
        // The switch port is named after the host it leads to.
        self.ip(&["-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", host, "netns", &sw]);
        self.ip(&["-n", &sw, "link", "set", host, "master", "br0"]);
        self.ip(&["-n", &sw, "link", "set", host, "up"]);
        let addr = format!("10.{}.0.{port}/24", self.net);
        self.ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
        self.ip(&["-n", &ns, "link", "set", "eth0", "up"]);
    }

    fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.prefix)
    }

    fn router_ns(&self, r: Router) -> String {
        self.ns(r.name())
    }

    /// Runs `ip ARGS`, panics with its stderr on failure, returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip").args(args).stdin(Stdio::null()).output().expect("run ip");
        assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn addr(&self, r: Router) -> String {
        format!("10.{}.0.{}", self.net, r.host())
    }

    pub fn vip(&self) -> String {
        format!("10.{}.0.100", self.net)
    }

    /// keepalived.conf for router `r` (peer: the other router).
    pub fn config(&self, r: Router, v: &Vrrp) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# {} {}: generated by tests/netns/lab.rs", self.test, r.name());
        let _ = writeln!(s, "global_defs {{\n    vrrp_version {}\n}}\n", v.version);
        let _ = writeln!(s, "vrrp_instance VI_1 {{");
        let _ = writeln!(s, "    state {}", if v.master { "MASTER" } else { "BACKUP" });
        let _ = writeln!(s, "    interface eth0");
        let _ = writeln!(s, "    virtual_router_id {VRID}");
        let _ = writeln!(s, "    priority {}", v.priority);
        let _ = writeln!(s, "    advert_int {}", v.advert.as_secs_f64());
        if v.nopreempt {
            let _ = writeln!(s, "    nopreempt");
        }
        if v.unicast {
            let _ = writeln!(s, "    unicast_src_ip {}", self.addr(r));
            let _ = writeln!(s, "    unicast_peer {{\n        {}\n    }}", self.addr(r.other()));
        }
        if v.havip_garp {
            let _ = writeln!(s, "    garp_master_delay 1\n    garp_master_refresh 5");
        }
        let _ = writeln!(s, "    virtual_ipaddress {{\n        {}/{}\n    }}", self.vip(), v.vip_prefix);
        let _ = writeln!(s, "}}");
        s
    }

    /// Starts `kind` on router `r` with configuration `v`.
    pub fn start(&mut self, r: Router, kind: Kind, v: &Vrrp) -> Daemon {
        let conf = self.config(r, v);
        self.start_conf(r, kind, &conf, &[])
    }

    /// Starts `kind` on router `r` with a configuration text and extra
    /// arguments. Logs go to `<dir>/<router>-<kind>-<n>.log`.
    pub fn start_conf(&mut self, r: Router, kind: Kind, conf: &str, extra: &[&str]) -> Daemon {
        self.start_conf_env(r, kind, conf, extra, &[])
    }

    /// [`Lab::start_conf`] with environment variables set for the daemon
    /// (e.g. keepalived's `TMPDIR`, where it writes its signal files).
    pub fn start_conf_env(
        &mut self,
        r: Router,
        kind: Kind,
        conf: &str,
        extra: &[&str],
        env: &[(&str, &Path)],
    ) -> Daemon {
        // VIPD_NETNS_KEEPALIVED_ONLY=1: keepalived in vipd's place, to tell
        // a broken lab from a vipd bug.
        let kind = if std::env::var_os("VIPD_NETNS_KEEPALIVED_ONLY").is_some() { Kind::Keepalived } else { kind };
        let (base, conf_path, log) = self.next_files(r, kind, conf);
        let pid_file = self.pid_file(r, kind);
        let vrrp_pid_file = self.dir.join(format!("{}-{}.vrrp.pid", r.name(), kind.name()));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.router_ns(r)]);
        match kind {
            Kind::Vipd => {
                cmd.arg(VIPD).arg("-D").arg("-f").arg(&conf_path).arg("-p").arg(&pid_file);
                cmd.arg("--control").arg(self.control_path(r));
            }
            Kind::Keepalived => {
                assert!(command_exists("keepalived"), "keepalived is not installed (scripts/test installs it)");
                // As keepalived 2.2.7 was run for the reference captures
                // (platform-notes Q7), console only.
                cmd.args(["keepalived", "-n", "-l", "-D", "-G", "-P", "-f"]).arg(&conf_path);
                cmd.arg("-p").arg(&pid_file).arg("-r").arg(&vrrp_pid_file);
            }
        }
        cmd.args(extra);
        cmd.envs(env.iter().copied());
        let what = format!("{} on {}", base, self.router_ns(r));
        let idx = self.spawn(what, cmd, &log, true);
        if kind == Kind::Keepalived {
            self.procs[idx].child_pid_file = Some(vrrp_pid_file);
        }
        Daemon { idx, router: r, kind }
    }

    /// The next start's name (`r1-vipd-3`), its configuration file, with
    /// `conf` written to it, and its log file.
    fn next_files(&mut self, r: Router, kind: Kind, conf: &str) -> (String, PathBuf, PathBuf) {
        self.starts += 1;
        let base = format!("{}-{}-{}", r.name(), kind.name(), self.starts);
        let conf_path = self.dir.join(format!("{base}.conf"));
        fs::write(&conf_path, conf).expect("write config");
        let log = self.dir.join(format!("{base}.log"));
        (base, conf_path, log)
    }

    /// Starts vipd on `r` with `conf`, `-D` and exactly `args` (no `-p`
    /// nor `--control` of the lab's).
    #[allow(dead_code)]
    pub fn start_vipd_args(&mut self, r: Router, conf: &str, args: &[&str]) -> Daemon {
        let (base, conf_path, log) = self.next_files(r, Kind::Vipd, conf);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.router_ns(r)]);
        cmd.arg(VIPD).arg("-D").arg("-f").arg(&conf_path).args(args);
        let what = format!("{base} on {}", self.router_ns(r));
        let idx = self.spawn(what, cmd, &log, true);
        Daemon { idx, router: r, kind: Kind::Vipd }
    }

    /// Starts vipd on `r` under `wrapper` (e.g. `setpriv` dropping root),
    /// with its pid file in a directory anyone may write.
    pub fn start_vipd_wrapped(&mut self, r: Router, conf: &str, wrapper: &[&str]) -> Daemon {
        let (base, conf_path, log) = self.next_files(r, Kind::Vipd, conf);
        let run = self.dir.join("run");
        fs::create_dir_all(&run).expect("run dir");
        let _ = Command::new("chmod").arg("1777").arg(&run).status();
        let _ = Command::new("chmod").arg("755").arg(&self.dir).status();
        let _ = Command::new("chmod").arg("644").arg(&conf_path).status();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.router_ns(r)]).args(wrapper);
        cmd.arg(VIPD).arg("-D").arg("-f").arg(&conf_path).arg("-p").arg(run.join(format!("{}.pid", r.name())));
        cmd.arg("--control").arg(run.join(format!("{}.sock", r.name())));
        let what = format!("{base} on {}", self.router_ns(r));
        let idx = self.spawn(what, cmd, &log, true);
        Daemon { idx, router: r, kind: Kind::Vipd }
    }

    /// The control socket of vipd on `r` (`vipd status --control`).
    pub fn control_path(&self, r: Router) -> PathBuf {
        self.dir.join(format!("{}-vipd.sock", r.name()))
    }

    /// One pid file per router and daemon, as in /run: a restart finds what
    /// the last run left.
    pub fn pid_file(&self, r: Router, kind: Kind) -> PathBuf {
        self.dir.join(format!("{}-{}.pid", r.name(), kind.name()))
    }

    /// Runs vipd on `r` with `conf` until it exits (it must, within
    /// [`TIMEOUT`]), behind `wrapper` (e.g. `setpriv ...`); returns its exit
    /// code and output.
    pub fn run_vipd(&mut self, r: Router, conf: &str, wrapper: &[&str]) -> (Option<i32>, String) {
        let (base, conf_path, log) = self.next_files(r, Kind::Vipd, conf);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.router_ns(r)]).args(wrapper);
        cmd.arg(VIPD).arg("-D").arg("-f").arg(&conf_path).arg("-p").arg(self.pid_file(r, Kind::Vipd));
        cmd.arg("--control").arg(self.control_path(r));
        let what = format!("{base} on {}", self.router_ns(r));
        let idx = self.spawn(what, cmd, &log, true);
        let status = self.wait_exit(idx, TIMEOUT);
        let status = status.unwrap_or_else(|| panic!("{} did not exit\n{}", self.procs[idx].what, self.status()));
        (status.code(), fs::read_to_string(&log).unwrap_or_default())
    }

    /// Starts `cmd` with stdout and stderr to `out` (the log
    /// [`Lab::status`] shows when `log`) and tracks it for Drop.
    fn spawn(&mut self, what: String, mut cmd: Command, out: &Path, log: bool) -> usize {
        let file = fs::File::create(out).expect("create log");
        let err = file.try_clone().expect("dup log");
        // Same process group as the test: Ctrl-C on `cargo test` stops the
        // daemons too (they release their VIPs) even though Drop never runs.
        cmd.stdin(Stdio::null()).stdout(file).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
        self.procs.push(Proc {
            what,
            child,
            status: None,
            log: log.then(|| out.to_path_buf()),
            child_pid_file: None,
            cursor: 0,
        });
        self.procs.len() - 1
    }

    /// SIGHUP (reload); does not wait for anything.
    #[allow(dead_code)]
    pub fn hup(&self, d: Daemon) {
        signal("HUP", &self.procs[d.idx].child.id().to_string());
    }

    pub fn log(&self, d: Daemon) -> String {
        self.procs[d.idx].log.as_ref().map(|p| fs::read_to_string(p).unwrap_or_default()).unwrap_or_default()
    }

    /// Waits for a log line containing `pat` after the last line matched on
    /// this daemon; returns the line. Panics after [`TIMEOUT`] or when the
    /// daemon exits first.
    pub fn wait_for(&mut self, d: Daemon, pat: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = self.log(d);
            let from = self.procs[d.idx].cursor.min(log.len());
            if let Some(at) = log[from..].find(pat) {
                let start = log[..from + at].rfind('\n').map_or(0, |i| i + 1);
                let end = log[from + at..].find('\n').map_or(log.len(), |i| from + at + i);
                self.procs[d.idx].cursor = end;
                return log[start..end].to_owned();
            }
            if let Some(status) = self.poll_exit(d.idx) {
                panic!("{} exited ({status}) before logging `{pat}`\n{}", self.procs[d.idx].what, self.status());
            }
            assert!(
                Instant::now() < deadline,
                "{}: no `{pat}` within {TIMEOUT:?}\n{}",
                self.procs[d.idx].what,
                self.status()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Makes [`Lab::wait_for`] look only at what `d` logs from now on.
    pub fn skip_log(&mut self, d: Daemon) {
        self.procs[d.idx].cursor = self.log(d).len();
    }

    /// The state of the last `Entering X STATE` line: MASTER, BACKUP, FAULT.
    pub fn state(&self, d: Daemon) -> Option<String> {
        let log = self.log(d);
        log.lines().rev().find_map(|l| {
            let rest = &l[l.find("Entering ")? + "Entering ".len()..];
            Some(rest[..rest.find(" STATE")?].to_owned())
        })
    }

    pub fn is_running(&mut self, d: Daemon) -> bool {
        self.poll_exit(d.idx).is_none()
    }

    fn poll_exit(&mut self, idx: usize) -> Option<ExitStatus> {
        let p = &mut self.procs[idx];
        if p.status.is_none() {
            p.status = p.child.try_wait().ok().flatten();
        }
        p.status
    }

    fn wait_exit(&mut self, idx: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.poll_exit(idx) {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// SIGTERM; waits for the exit and returns the exit code (None: killed
    /// by a signal). Panics if it does not exit within [`TIMEOUT`].
    pub fn term(&mut self, d: Daemon) -> Option<i32> {
        self.stop_with(d, "TERM")
    }

    /// Sends `sig` (TERM, INT); waits for the exit and returns the exit
    /// code. Panics if it does not exit within [`TIMEOUT`].
    pub fn stop_with(&mut self, d: Daemon, sig: &str) -> Option<i32> {
        signal(sig, &self.procs[d.idx].child.id().to_string());
        let status = self.wait_exit(d.idx, TIMEOUT);
        let status = status.unwrap_or_else(|| panic!("{} ignored SIG{sig}\n{}", self.procs[d.idx].what, self.status()));
        status.code()
    }

    /// SIGKILL, then waits for the exit. For keepalived, its VRRP child
    /// first: it would release the VIPs on its parent's death.
    pub fn kill(&mut self, d: Daemon) {
        let vrrp_child = self.keepalived_child(d.idx);
        if let Some(pid) = &vrrp_child {
            signal("KILL", pid);
        }
        signal("KILL", &self.procs[d.idx].child.id().to_string());
        assert!(self.wait_exit(d.idx, TIMEOUT).is_some(), "{} survived SIGKILL", self.procs[d.idx].what);
        // keepalived refuses to start while its VRRP child's pid is still
        // there (a zombie until init reaps it).
        if let Some(pid) = vrrp_child {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let deadline = Instant::now() + TIMEOUT;
            while proc.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The pid of keepalived's VRRP child, while it runs.
    fn keepalived_child(&self, idx: usize) -> Option<String> {
        let pid = fs::read_to_string(self.procs[idx].child_pid_file.as_ref()?).ok()?;
        let pid = pid.trim().to_owned();
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == "keepalived").then_some(pid)
    }

    /// Does `r` have the VIP on eth0?
    pub fn holds_vip(&self, r: Router) -> bool {
        let out = self.ip(&["-n", &self.router_ns(r), "-o", "addr", "show", "dev", "eth0"]);
        let needle = format!(" {}/", self.vip());
        out.contains(&needle)
    }

    /// Unplugs (or plugs back) `r`'s cable: its port on the bridge.
    pub fn cable(&self, r: Router, plugged: bool) {
        self.ip(&["-n", &self.ns("sw"), "link", "set", r.name(), if plugged { "up" } else { "down" }]);
    }

    /// Who holds the VIP and what each daemon last logged, for failures.
    pub fn status(&self) -> String {
        let mut s = String::new();
        for r in [Router::R1, Router::R2, Router::R3] {
            if r == Router::R3 && !self.ns_path(r.name()).exists() {
                continue;
            }
            let out =
                Command::new("ip").args(["-n", &self.router_ns(r), "-o", "-4", "addr", "show", "dev", "eth0"]).output();
            let addrs: Vec<String> = out
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned))
                .collect();
            let _ = writeln!(s, "  {}: {}", r.name(), addrs.join(" "));
        }
        for p in &self.procs {
            if let Some(log) = &p.log {
                let _ = writeln!(s, "  --- {} ({})", p.what, log.display());
                let text = fs::read_to_string(log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                for l in &lines[lines.len().saturating_sub(25)..] {
                    let _ = writeln!(s, "    {l}");
                }
            }
        }
        s
    }

    /// Polls `cond` until it holds; panics after `timeout`.
    pub fn eventually(&self, what: &str, timeout: Duration, cond: impl Fn(&Lab) -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond(self) {
            assert!(Instant::now() < deadline, "{}: not {what} within {timeout:?}\n{}", self.test, self.status());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Checks `cond` every 20 ms for `period`; panics the first time it
    /// does not hold.
    pub fn stays(&self, what: &str, period: Duration, cond: impl Fn(&Lab) -> bool) {
        let deadline = Instant::now() + period;
        while Instant::now() < deadline {
            assert!(cond(self), "{}: no longer {what}\n{}", self.test, self.status());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Exactly `r` holds the VIP, within [`TIMEOUT`], and it stays so for
    /// `settle`.
    pub fn converges_on(&self, r: Router, settle: Duration) {
        let what = format!("only {} holding {}", r.name(), self.vip());
        let cond = |lab: &Lab| lab.holds_vip(r) && !lab.holds_vip(r.other());
        self.eventually(&what, TIMEOUT, cond);
        self.stays(&what, settle, cond);
    }

    /// Starts the client pinging the VIP every 10 ms (`ping -D`, so every
    /// reply carries its time) and waits for the first 20 replies.
    pub fn start_ping(&mut self) -> Pinger {
        self.starts += 1;
        let out = self.dir.join(format!("ping-{}.txt", self.starts));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns("c"), "ping", "-D", "-n", "-i", "0.01", &self.vip()]);
        let what = format!("ping {} from {}", self.vip(), self.ns("c"));
        let idx = self.spawn(what, cmd, &out, false);
        let p = Pinger { idx, out };
        let deadline = Instant::now() + TIMEOUT;
        while replies(&p.out).len() < 20 {
            assert!(Instant::now() < deadline, "the client cannot ping {}\n{}", self.vip(), self.status());
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// Waits until the client has had 20 replies after now (the VIP is back),
    /// stops the ping and returns the longest time without a reply that
    /// ends after `since` (the failover being measured).
    pub fn stop_ping(&mut self, p: Pinger, since: SystemTime) -> Duration {
        let now = unix_now();
        let deadline = Instant::now() + TIMEOUT;
        while replies(&p.out).iter().filter(|&&t| t > now).count() < 20 {
            assert!(Instant::now() < deadline, "the client lost {} for good\n{}", self.vip(), self.status());
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("INT", &self.procs[p.idx].child.id().to_string());
        if self.wait_exit(p.idx, Duration::from_secs(5)).is_none() {
            signal("KILL", &self.procs[p.idx].child.id().to_string());
            self.wait_exit(p.idx, Duration::from_secs(5));
        }
        let since = since.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let t = replies(&p.out);
        let gap = t.windows(2).filter(|w| w[1] >= since).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        Duration::from_secs_f64(gap)
    }

    /// Prints the client's outage for `what` and asserts it is within
    /// [`outage_bound`] of the protocol's `takeover` time.
    pub fn check_outage(&self, what: &str, outage: Duration, takeover: Duration) {
        let bound = outage_bound(takeover);
        println!(
            "{}: {what}: client outage {} ms (takeover {} ms, bound {} ms)",
            self.test,
            outage.as_millis(),
            takeover.as_millis(),
            bound.as_millis()
        );
        assert!(outage <= bound, "{}: {what}: outage {outage:?} > bound {bound:?}\n{}", self.test, self.status());
    }

    /// Starts `ip monitor address` on `r` and waits until it reports (a
    /// marker address added to and removed from `lo`), so nothing after this
    /// call is missed.
    pub fn start_monitor(&mut self, r: Router) -> Monitor {
        self.starts += 1;
        let out = self.dir.join(format!("monitor-{}-{}.txt", r.name(), self.starts));
        let ns = self.router_ns(r);
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &ns, "-o", "monitor", "address"]);
        let idx = self.spawn(format!("ip monitor address in {ns}"), cmd, &out, false);
        let marker = format!("10.{}.0.99/32", self.net);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            self.ip(&["-n", &ns, "addr", "add", &marker, "dev", "lo"]);
            self.ip(&["-n", &ns, "addr", "del", &marker, "dev", "lo"]);
            std::thread::sleep(Duration::from_millis(50));
            if fs::read_to_string(&out).unwrap_or_default().contains(&marker) {
                break;
            }
            assert!(Instant::now() < deadline, "ip monitor in {ns} reports nothing");
        }
        Monitor { idx, out }
    }

    /// Stops the monitor; returns its VIP events in order: `true` for an
    /// address added, `false` for one deleted.
    pub fn stop_monitor(&mut self, m: Monitor) -> Vec<bool> {
        signal("TERM", &self.procs[m.idx].child.id().to_string());
        self.wait_exit(m.idx, Duration::from_secs(5));
        let needle = format!(" {}/", self.vip());
        fs::read_to_string(&m.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .map(|l| !l.starts_with("Deleted"))
            .collect()
    }
}

/// Is keepalived standing in for vipd (`VIPD_NETNS_KEEPALIVED_ONLY=1`)?
#[allow(dead_code)]
pub fn keepalived_only() -> bool {
    std::env::var_os("VIPD_NETNS_KEEPALIVED_ONLY").is_some()
}

/// The daemon that really runs when a test asks for `kind`.
#[allow(dead_code)]
pub fn actual(kind: Kind) -> Kind {
    if keepalived_only() { Kind::Keepalived } else { kind }
}

/// A helper process (a FIFO reader, ...) started by [`Lab::start_helper`].
#[allow(dead_code)]
pub struct Helper {
    idx: usize,
    /// Its stdout and stderr.
    pub out: PathBuf,
}

/// One VRRP advertisement seen on the wire by [`Lab::capture_adverts`].
#[allow(dead_code)]
#[derive(Clone, Copy, Debug)]
pub struct Advert {
    /// The kernel's receive time stamp (since the Unix epoch).
    pub at: Duration,
    pub vrid: u8,
    pub priority: u8,
}

#[allow(dead_code)]
impl Lab {
    /// The test's directory: configs, logs, and whatever scripts and files
    /// the test gives the daemons.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The address 10.N.0.`host`.
    pub fn host_addr(&self, host: u8) -> String {
        format!("10.{}.0.{host}", self.net)
    }

    /// Does `r` have `addr` on eth0?
    pub fn holds_addr(&self, r: Router, addr: &str) -> bool {
        let out = self.ip(&["-n", &self.router_ns(r), "-o", "addr", "show", "dev", "eth0"]);
        out.contains(&format!(" {addr}/"))
    }

    /// The state of instance `inst`'s last `(inst) Entering X STATE` line.
    pub fn instance_state(&self, d: Daemon, inst: &str) -> Option<String> {
        let prefix = format!("({inst}) Entering ");
        self.log(d).lines().rev().find_map(|l| {
            let rest = &l[l.find(&prefix)? + prefix.len()..];
            Some(rest[..rest.find(" STATE")?].to_owned())
        })
    }

    /// Starts `argv` in the host's namespace with stdout and stderr to
    /// `<dir>/<name>`; Drop stops it like the daemons.
    pub fn start_helper(&mut self, name: &str, argv: &[&str]) -> Helper {
        let out = self.dir.join(name);
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]);
        let idx = self.spawn(format!("{} ({name})", argv.join(" ")), cmd, &out, false);
        Helper { idx, out }
    }

    /// Waits up to `timeout` for `h` to exit by itself; true if it did.
    pub fn helper_exited(&mut self, h: &Helper, timeout: Duration) -> bool {
        self.wait_exit(h.idx, timeout).is_some()
    }

    /// Waits up to `timeout` for daemon `d` to exit by itself; its status.
    pub fn exit_within(&mut self, d: Daemon, timeout: Duration) -> Option<ExitStatus> {
        self.wait_exit(d.idx, timeout)
    }

    /// `/run/netns/NAME` of `host` ("r1", "r2", "c", "sw"), for code that
    /// enters the namespace itself (packet sockets, crafted packets).
    pub fn ns_path(&self, host: &str) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.ns(host)))
    }

    /// What `r` sends during `period`, seen on its switch port: its IPv4
    /// VRRP adverts and its ARP frames (GARPs).
    pub fn capture_sent(&self, r: Router, period: Duration) -> (Vec<Advert>, usize) {
        let ns = self.ns_path("sw");
        let port = r.name();
        let src = [10, self.net, 0, r.host()];
        let t = std::thread::spawn(move || {
            let tap = PortTap::open(&ns, port, Some(8 << 20));
            let deadline = Instant::now() + period;
            let mut buf = [0u8; 2048];
            let (mut adverts, mut arps) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let Some(f) = tap.next(&mut buf) else { continue };
                // Frames the router sent arrive on its port (not outgoing).
                if f.outgoing {
                    continue;
                }
                let p = &buf[..f.len];
                if f.protocol == libc::ETH_P_ARP as u16 {
                    arps += 1;
                    continue;
                }
                if f.protocol != libc::ETH_P_IP as u16 || p.len() < 20 || p[9] != 112 || p[12..16] != src {
                    continue;
                }
                let Some(vrrp) = p.get(usize::from(p[0] & 0x0f) * 4..).filter(|v| v.len() >= 3) else { continue };
                adverts.push(Advert { at: f.at, vrid: vrrp[1], priority: vrrp[2] });
            }
            (adverts, arps)
        });
        t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Captures, for `period`, the VRRP adverts `r` sends: a packet socket
    /// on `r`'s port of the switch (nothing to install, and it sees the
    /// wire whatever the routers do), with the kernel's receive time stamps
    /// so the test's own scheduling delays do not count as gaps.
    pub fn capture_adverts(&self, r: Router, period: Duration) -> Vec<Advert> {
        let ns = PathBuf::from(format!("/run/netns/{}", self.ns("sw")));
        let port = r.name();
        let src = [10, self.net, 0, r.host()];
        // setns moves only the calling thread: a thread of its own, gone
        // afterwards, keeps the test's threads in the host's namespace.
        let t = std::thread::spawn(move || capture(&ns, port, src, period));
        t.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// The longest time between consecutive adverts (zero for fewer than two).
#[allow(dead_code)]
pub fn max_gap(adverts: &[Advert]) -> Duration {
    adverts.windows(2).map(|w| w[1].at.saturating_sub(w[0].at)).max().unwrap_or_default()
}

/// The socket ioctl returning the last packet's receive time (`struct
/// timeval`); the same number on every Linux architecture.
#[allow(dead_code)]
pub const SIOCGSTAMP: libc::Ioctl = 0x8906;

/// `getsockopt(SOL_PACKET, PACKET_STATISTICS)`: `struct tpacket_stats`.
const PACKET_STATISTICS: libc::c_int = 6;

/// One frame a [`PortTap`] saw.
#[allow(dead_code)]
pub struct Tapped {
    pub len: usize,
    /// The Ethernet type, host order (`libc::ETH_P_IP`, `ETH_P_IPV6`).
    pub protocol: u16,
    /// Sent out of the port (towards the router) rather than received.
    pub outgoing: bool,
    /// The Ethernet source.
    pub mac: [u8; 6],
    /// The kernel's receive time stamp, so the capturing thread's own
    /// scheduling delays never count.
    pub at: Duration,
}

/// A packet socket on a switch port: nothing to install, and it sees the
/// wire whatever the routers do. SOCK_DGRAM, so frames start at the IP
/// header.
#[allow(dead_code)]
pub struct PortTap {
    fd: OwnedFd,
}

#[allow(dead_code)]
impl PortTap {
    /// Moves the calling thread into namespace `ns` (setns moves only the
    /// calling thread: call it on a thread of its own) and opens the tap on
    /// `port`. `rcvbuf`: a receive buffer to force, for captures on a
    /// loaded machine.
    pub fn open(ns: &Path, port: &str, rcvbuf: Option<libc::c_int>) -> PortTap {
        let netns = fs::File::open(ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
        let port = CString::new(port).expect("port name");
        // SAFETY: plain syscalls on descriptors this function owns; the
        // buffers passed are live locals of the sizes given.
        unsafe {
            assert_eq!(libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns: {}", io::Error::last_os_error());
            // Protocol 0 until bound: no packet from another port gets
            // queued between socket() and bind().
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "packet socket: {}", io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);
            if let Some(size) = rcvbuf {
                let int_len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                let ptr = (&raw const size).cast();
                libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, ptr, int_len);
            }
            let ifindex = libc::if_nametoindex(port.as_ptr());
            assert_ne!(ifindex, 0, "switch port {port:?}: {}", io::Error::last_os_error());
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            // ETH_P_ALL: a bridge port's received frames reach the taps for
            // all protocols only; the bridge consumes them before the
            // per-protocol ones.
            sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
            sll.sll_ifindex = ifindex as i32;
            let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let rc = libc::bind(fd.as_raw_fd(), (&raw const sll).cast(), len);
            assert_eq!(rc, 0, "bind the packet socket: {}", io::Error::last_os_error());
            // Wake up now and then so callers notice the end of a period.
            let tv = libc::timeval { tv_sec: 0, tv_usec: 50_000 };
            let len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
            libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&raw const tv).cast(), len);
            let tap = PortTap { fd };
            // Reading the statistics clears them: count from here.
            tap.drops();
            tap
        }
    }

    /// The next frame into `buf`; `None` after 50 ms without one.
    pub fn next(&self, buf: &mut [u8]) -> Option<Tapped> {
        // SAFETY: as in `open`.
        unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let (buf_ptr, from_ptr) = (buf.as_mut_ptr().cast(), (&raw mut from).cast());
            let n = libc::recvfrom(self.fd.as_raw_fd(), buf_ptr, buf.len(), 0, from_ptr, &raw mut from_len);
            let len = usize::try_from(n).ok()?;
            let mut ts = libc::timeval { tv_sec: 0, tv_usec: 0 };
            assert_eq!(libc::ioctl(self.fd.as_raw_fd(), SIOCGSTAMP, &raw mut ts), 0, "SIOCGSTAMP");
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&from.sll_addr[..6]);
            Some(Tapped {
                len,
                protocol: u16::from_be(from.sll_protocol),
                outgoing: from.sll_pkttype == libc::PACKET_OUTGOING,
                mac,
                at: Duration::new(ts.tv_sec as u64, ts.tv_usec as u32 * 1000),
            })
        }
    }

    /// Frames the kernel dropped (buffer full) since the last call.
    pub fn drops(&self) -> u32 {
        let mut stats = [0u32; 2];
        let mut len = std::mem::size_of_val(&stats) as libc::socklen_t;
        // SAFETY: `stats` is a live `struct tpacket_stats` of `len` bytes.
        unsafe {
            let ptr = (&raw mut stats).cast();
            libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, PACKET_STATISTICS, ptr, &raw mut len);
        }
        stats[1]
    }
}

/// The VRRP adverts (IPv4, protocol 112) from `src` seen on `port` of
/// namespace `ns` during `period`.
fn capture(ns: &Path, port: &str, src: [u8; 4], period: Duration) -> Vec<Advert> {
    let tap = PortTap::open(ns, port, None);
    let deadline = Instant::now() + period;
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let Some(f) = tap.next(&mut buf) else { continue };
        let p = &buf[..f.len];
        if f.protocol != libc::ETH_P_IP as u16 || p.len() < 20 || p[0] >> 4 != 4 || p[9] != 112 || p[12..16] != src {
            continue;
        }
        let Some(vrrp) = p.get(usize::from(p[0] & 0x0f) * 4..).filter(|v| v.len() >= 3) else { continue };
        out.push(Advert { at: f.at, vrid: vrrp[1], priority: vrrp[2] });
    }
    out
}

/// Reply times (Unix seconds) in `ping -D` output: `[1795315437.538002] 64
/// bytes from ...`.
#[allow(dead_code)]
pub fn replies(path: &Path) -> Vec<f64> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" bytes from "))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect()
}

impl Drop for Lab {
    fn drop(&mut self) {
        let panicking = std::thread::panicking();
        // SIGTERM everything still running (daemons release their VIPs),
        // SIGKILL whatever is left after 3 s.
        for i in 0..self.procs.len() {
            if self.poll_exit(i).is_none() {
                signal("TERM", &self.procs[i].child.id().to_string());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for i in 0..self.procs.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.wait_exit(i, left).is_none() {
                signal("KILL", &self.procs[i].child.id().to_string());
                let _ = self.procs[i].child.wait();
            }
            // keepalived's VRRP child, should it outlive its parent.
            if let Some(pid) = self.keepalived_child(i) {
                signal("KILL", &pid);
            }
        }
        while let Some(ns) = self.namespaces.pop() {
            drop(ns);
        }
        if panicking || std::env::var_os("VIPD_NETNS_KEEP").is_some() {
            eprintln!("{}: logs and configs kept in {}", self.test, self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

#[allow(dead_code)]
impl Lab {
    /// The configuration file daemon `d` was started with (the
    /// [`Lab::start_conf_env`] naming: its log's name with `.conf`), for
    /// tests that rewrite it and reload.
    pub fn conf_path(&self, d: Daemon) -> PathBuf {
        let log = self.procs[d.idx].log.as_ref().expect("a daemon has a log");
        log.with_extension("conf")
    }

    /// The name of `host`'s namespace ("r1", "r2", "c", "sw"), for `ip -n`
    /// and `ip netns exec` run by the test itself.
    pub fn ns_name(&self, host: &str) -> String {
        self.ns(host)
    }

    /// The MAC address of `host`'s eth0.
    pub fn mac(&self, host: &str) -> [u8; 6] {
        let out = self.ip(&["-n", &self.ns(host), "-o", "link", "show", "dev", "eth0"]);
        let text = out.split("link/ether ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("");
        let mut mac = [0u8; 6];
        for (k, b) in text.split(':').enumerate().take(6) {
            mac[k] = u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("MAC {text:?} of {host}: {e}"));
        }
        mac
    }
}
