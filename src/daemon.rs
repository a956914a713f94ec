//! The composition root and the one event loop.
//!
//! ```text
//!  VRRP sockets ─┐
//!  netlink ──────┼─► Event ─► Engine::handle ─► Effects ─► sockets, netlink, GARP, log
//!  timerfd ──────┤                     └─► next_deadline ─► timerfd
//!  signals ──────┘
//! ```
//!
//! Everything runs on one thread: `sys::reactor::block_on` drives a
//! `smol::LocalExecutor`. The hot inputs (timer, netlink, VRRP sockets) are
//! polled by the top-level future itself ([`hot_path`]), each through its
//! own `dup` of the fd, so nothing holds a borrow of the daemon across an
//! await; when an fd is readable the daemon is borrowed, the fd drained
//! without blocking and each event handed to the engine. Nothing on that
//! path allocates. Signals, reloads, check scripts and notify lanes are
//! tasks on the executor.

use core::cell::RefCell;
use core::net::IpAddr;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::sys::reactor::{Async, Timer};

use crate::config::{self, Family, Loaded};
use crate::core::{Effect, Effects, Engine, Event, IfaceId, InstanceId, LogEvent, NotifyState, RxAdvert, State};
use crate::sys::garp::Announcer;
use crate::sys::netlink::{NetEvent, Netlink};
use crate::sys::vrrp::{Rx, VrrpSocket};
use crate::sys::{clock, netlink};
use crate::time::{Duration, Instant};
use crate::wire::WireError;
use crate::wire::vrrp::{Advert, AdvertBuf};

mod scripts;

use scripts::{Notifier, Plan, What};

/// Exit statuses (vipd(8)); keepalived's where it has one.
pub mod exit {
    pub const OK: u8 = 0;
    /// Could not run: missing interface, pid file held, socket errors.
    pub const FATAL: u8 = 1;
    /// The configuration has errors.
    pub const CONFIG: u8 = 2;
    /// Missing CAP_NET_RAW or CAP_NET_ADMIN.
    pub const PERMISSION: u8 = 4;
}

/// What the command line decides.
#[derive(Clone, Debug)]
pub struct Options {
    pub config: PathBuf,
    pub config_id: String,
    pub pid_file: PathBuf,
    /// `-D`: detail lines (timeouts, priority 0 sent, GARPs).
    pub detail: bool,
    /// False with `-V`: leave the addresses in place on exit.
    pub release_vips: bool,
    /// `-S`: syslog facility local0..local7, and the socket to use.
    pub syslog: Option<(PathBuf, u8)>,
    /// `-l`: with `-S`, log to standard error too.
    pub log_console: bool,
}

/// Repeated receive errors are logged at most this often per instance and
/// error, with a count of what was suppressed.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

struct RateLimit {
    last: Option<Instant>,
    suppressed: u32,
}

struct Log {
    detail: bool,
    /// `[instance][error]`, plus one row for errors without an instance.
    limits: Vec<RateLimit>,
    /// `-S`: lines go to syslog; to standard error as well with `-l`, and
    /// whenever syslog cannot take them.
    syslog: Option<crate::sys::syslog::Syslog>,
    console: bool,
}

impl Log {
    fn line(&self, args: core::fmt::Arguments<'_>) {
        let sent = self.syslog.as_ref().is_some_and(|s| s.send(args));
        if !sent || self.console {
            let mut err = io::stderr().lock();
            let _ = err.write_fmt(args);
            let _ = err.write_all(b"\n");
        }
    }
}

macro_rules! log {
    ($log:expr, $($t:tt)*) => { $log.line(format_args!($($t)*)) };
}

/// Everything the loop needs, owned in one place.
struct Daemon {
    engine: Engine,
    fx: Effects,
    netlink: Netlink,
    announcer: Announcer,
    sockets: Vec<VrrpSocket>,
    /// `IfaceId` → kernel ifindex (0: not present) and MAC.
    ifindex: Vec<u32>,
    mac: Vec<[u8; 6]>,
    /// `IfaceId` → socket index, per family.
    socket_of: SocketIndex,
    /// IP id of each instance's next IPv4 advert (keepalived counts from 1).
    ip_id: Vec<u16>,
    timer: OwnedFd,
    armed: Option<Instant>,
    buf: AdvertBuf,
    log: Log,
    release_vips: bool,
    stopping: bool,
    rx_copy: Box<[u8; 4096]>,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`, and GARPs/NAs waiting
    /// for their turn on an interface.
    garp_gap: [Duration; 2],
    pending: Vec<PendingAnnounce>,
    /// Per instance: failed advert sends, logged rate-limited, and the
    /// current run of consecutive failures.
    send_errors: Vec<RateLimit>,
    send_streak: Vec<u8>,
    /// Instances whose sends keep failing, reported after the effects run.
    send_failed: Vec<InstanceId>,
    /// systemd's notification socket (`Type=notify`), if started by it.
    sd: Option<crate::sys::sdnotify::SdNotify>,
    /// Tells the event loop to restart the socket readers.
    sockets_changed: smol::channel::Sender<()>,
    /// `IfaceId` → earliest time of its next GARP (v4) / NA (v6).
    next_free: Vec<[Instant; 2]>,
    /// Scripts, tracked files and FIFOs of the running configuration.
    plan: Plan,
    notifier: Notifier,
    files: Option<crate::sys::trackfile::Watcher>,
    /// The check script whose result is being handled, and how it ended.
    last_exit: Option<(Rc<str>, String)>,
    /// The real-time priority the running configuration asks for.
    rt_priority: Option<u8>,
}

/// One GARP or NA spaced out by the configured interval.
#[derive(Clone, Copy)]
struct PendingAnnounce {
    at: Instant,
    iface: IfaceId,
    addr: IpAddr,
}

/// Pending announcements kept without growing: more than this many
/// (hundreds of addresses × rounds) are sent at once rather than queued.
const PENDING_MAX: usize = 4096;

/// Runs the daemon until SIGTERM/SIGINT. Returns the exit status.
pub fn run(opts: &Options) -> u8 {
    let loaded = config::load(&opts.config, &opts.config_id);
    let mut err = io::stderr().lock();
    for d in &loaded.diagnostics {
        let _ = writeln!(err, "{}", d.display(&loaded.sources));
    }
    drop(err);
    // A configuration with errors is only partly read: checking its
    // scripts would report noise.
    let host = if loaded.has_errors() { Vec::new() } else { host_checks(&loaded.config) };
    let mut err = io::stderr().lock();
    for d in &host {
        let _ = writeln!(err, "{}", d.display(&loaded.sources));
    }
    drop(err);
    if loaded.has_errors() || host.iter().any(|d| d.severity == config::Severity::Error) {
        fail(format_args!("{}: not starting: the configuration has errors", opts.config.display()));
        return exit::CONFIG;
    }
    if let Err(missing) = check_capabilities() {
        fail(format_args!("missing capability {missing} (run as root, or grant CAP_NET_RAW and CAP_NET_ADMIN)"));
        return exit::PERMISSION;
    }
    let _pid = match PidFile::create(&opts.pid_file) {
        Ok(p) => p,
        Err(e) => {
            fail(format_args!("{e}"));
            return exit::FATAL;
        }
    };
    // Signals are caught before anything is installed, so a SIGTERM during
    // start-up is handled by the loop (releasing) instead of killing us.
    // As process 1 or a subreaper, vipd inherits the orphans of scripts and
    // must reap them (SIGCHLD).
    let orphans = crate::sys::script::adopts_orphans();
    // SIGXCPU: the real-time CPU limit was hit (sys::sched).
    let wanted: &[i32] = if orphans {
        &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGXCPU, libc::SIGCHLD]
    } else {
        &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGXCPU]
    };
    let signals = match crate::sys::signals::Signals::new(wanted) {
        Ok(s) => s,
        Err(e) => {
            fail(format_args!("signals: {e}"));
            return exit::FATAL;
        }
    };
    let syslog = match &opts.syslog {
        None => None,
        Some((path, facility)) => match crate::sys::syslog::Syslog::open(path, *facility) {
            Ok(s) => Some(s),
            Err(e) => {
                fail(format_args!("syslog {}: {e}", path.display()));
                return exit::FATAL;
            }
        },
    };
    let (changed_tx, changed_rx) = smol::channel::bounded(1);
    let mut daemon = match Daemon::new(&loaded, opts, changed_tx, syslog) {
        Ok(d) => d,
        Err(e) => {
            fail(format_args!("{e}"));
            return exit::FATAL;
        }
    };
    daemon.schedule(&loaded.config);
    // Configuration loaded and sockets open: ready for the service manager.
    if let Some(sd) = &daemon.sd {
        sd.send("READY=1\nSTATUS=running");
    }
    let ex = smol::LocalExecutor::new();
    let d = Rc::new(RefCell::new(daemon));
    let result =
        crate::sys::reactor::block_on(ex.run(main_loop(&ex, d.clone(), opts, changed_rx, signals))).unwrap_or_else(Err);
    // Leave nothing behind, however the loop ended (stop is idempotent).
    d.borrow_mut().stop();
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            fail(format_args!("{e}"));
            exit::FATAL
        }
    }
}

/// Checks of the configuration against this machine that the reader
/// cannot make: script users, paths, permissions and
/// `enable_script_security` (vipd -t runs them too).
pub fn host_checks(cfg: &config::Config) -> Vec<config::Diagnostic> {
    crate::sys::script::check_config(cfg)
        .into_iter()
        .map(|(error, message)| config::Diagnostic {
            severity: if error { config::Severity::Error } else { config::Severity::Warning },
            span: None,
            message,
            hint: None,
        })
        .collect()
}

/// Creates `init_file`s and watches the tracked files of `plan`.
fn watch_files(plan: &Plan) -> Result<Option<crate::sys::trackfile::Watcher>, String> {
    if plan.files.is_empty() {
        return Ok(None);
    }
    for (_, path, init, overwrite) in &plan.files {
        if let Some(v) = init {
            crate::sys::trackfile::init_file(path, *v, *overwrite)
                .map_err(|e| format!("track_file {}: cannot write the initial value: {e}", path.display()))?;
        }
    }
    let keyed: Vec<(usize, &Path)> = plan.files.iter().enumerate().map(|(k, f)| (k, f.1.as_path())).collect();
    crate::sys::trackfile::Watcher::new(&keyed).map(Some)
}

fn fail(args: core::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "vipd: {args}");
}

/// CAP_NET_ADMIN (12) for addresses, CAP_NET_RAW (13) for VRRP and ARP.
fn check_capabilities() -> Result<(), &'static str> {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return Ok(()) };
    let Some(eff) = status.lines().find_map(|l| l.strip_prefix("CapEff:")) else { return Ok(()) };
    let Ok(bits) = u64::from_str_radix(eff.trim(), 16) else { return Ok(()) };
    match (bits & (1 << 13) != 0, bits & (1 << 12) != 0) {
        (false, false) => Err("CAP_NET_RAW and CAP_NET_ADMIN"),
        (false, true) => Err("CAP_NET_RAW"),
        (true, false) => Err("CAP_NET_ADMIN"),
        (true, true) => Ok(()),
    }
}

/// The pid file, removed on drop.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &Path) -> Result<PidFile, String> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if pid != std::process::id() && comm.trim() == "vipd" {
                    return Err(format!("{}: vipd is already running as pid {pid}", path.display()));
                }
            }
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .map_err(|e| format!("{}: cannot write the pid file: {e}", path.display()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn family_slot(f: Family) -> usize {
    match f {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

/// Kernel view of the engine's interfaces: ifindex and MAC per `IfaceId`.
struct Resolved {
    ifindex: Vec<u32>,
    mac: Vec<[u8; 6]>,
    links: Vec<crate::wire::netlink::LinkInfo>,
    addrs: Vec<crate::wire::netlink::AddrInfo>,
}

fn resolve(engine: &Engine, netlink: &mut Netlink) -> Result<Resolved, String> {
    let (links, addrs) = netlink.dump().map_err(|e| format!("netlink dump: {e}"))?;
    let n = engine.ifaces().len();
    let mut ifindex = vec![0u32; n];
    let mut mac = vec![[0u8; 6]; n];
    for (i, f) in engine.ifaces().iter().enumerate() {
        let Some(l) = links.iter().find(|l| l.name.as_str() == f.name) else {
            return Err(format!("interface `{}` does not exist", f.name));
        };
        ifindex[i] = l.index;
        mac[i] = l.mac.unwrap_or([0; 6]);
    }
    Ok(Resolved { ifindex, mac, links, addrs })
}

/// One receive socket per interface and family, joined to the groups of the
/// multicast instances on it. Sockets in `reuse` with the same interface,
/// family and groups are kept rather than reopened.
/// `IfaceId` → index of its socket in `Daemon::sockets`, per family.
type SocketIndex = Vec<[Option<usize>; 2]>;

fn open_sockets(
    engine: &Engine,
    ifindex: &[u32],
    mut reuse: Vec<VrrpSocket>,
) -> Result<(Vec<VrrpSocket>, SocketIndex), String> {
    let mut sockets = Vec::new();
    let mut socket_of = vec![[None, None]; ifindex.len()];
    for inst in engine.instances() {
        let slot = family_slot(inst.cfg.family);
        let iface = usize::from(inst.iface.0);
        if socket_of[iface][slot].is_some() {
            continue;
        }
        let mut groups: Vec<IpAddr> = Vec::new();
        for other in engine.instances() {
            if other.iface == inst.iface && other.cfg.family == inst.cfg.family && !other.cfg.is_unicast() {
                let g = other.group_addr();
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        let same = |s: &VrrpSocket| {
            s.ifindex() == ifindex[iface]
                && s.family() == inst.cfg.family
                && s.groups().len() == groups.len()
                && groups.iter().all(|g| s.groups().contains(g))
        };
        let sock = match reuse.iter().position(same) {
            Some(k) => reuse.swap_remove(k),
            None => {
                let name = &engine.ifaces()[iface].name;
                VrrpSocket::open(name, ifindex[iface], inst.cfg.family, &groups)
                    .map_err(|e| format!("VRRP socket on `{name}`: {e}"))?
            }
        };
        socket_of[iface][slot] = Some(sockets.len());
        sockets.push(sock);
    }
    Ok((sockets, socket_of))
}

/// ` from ADDR` when known: log pieces written without building Strings.
struct FromAddr(Option<IpAddr>);

impl core::fmt::Display for FromAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(a) => write!(f, " from {a}"),
            None => Ok(()),
        }
    }
}

/// ` (N more suppressed)` when rate limiting dropped lines.
struct Suppressed(u32);

impl core::fmt::Display for Suppressed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 > 0 { write!(f, " ({} more suppressed)", self.0) } else { Ok(()) }
    }
}

/// One GARP (IPv4) or unsolicited NA (IPv6) for `addr` on `iface`.
fn announce_one(
    announcer: &Announcer,
    log: &Log,
    engine: &Engine,
    ifindex: &[u32],
    mac: &[[u8; 6]],
    iface: IfaceId,
    addr: IpAddr,
) {
    let f = usize::from(iface.0);
    let (Some(&index), Some(&mac)) = (ifindex.get(f), mac.get(f)) else { return };
    let r = match addr {
        IpAddr::V4(a) => announcer.garp(index, mac, a),
        IpAddr::V6(a) => {
            let router = engine.ifaces().get(f).is_some_and(|i| Announcer::forwarding(&i.name));
            announcer.na(index, mac, a, router)
        }
    };
    if let Err(e) = r {
        log!(log, "cannot announce {addr}: {e}");
    }
}

/// Adds or removes one of `inst`'s addresses on its interface.
fn vip_change(
    netlink: &mut Netlink,
    log: &Log,
    engine: &Engine,
    ifindex: &[u32],
    inst: &crate::core::Instance,
    v: &config::VipConfig,
    add: bool,
) {
    let iface = match &v.dev {
        Some(dev) => engine.iface_by_name(dev),
        None => Some(inst.iface),
    };
    let Some(index) = iface.and_then(|f| ifindex.get(usize::from(f.0)).copied()).filter(|&x| x != 0) else {
        return;
    };
    let r = if add { netlink.add_addr(index, v) } else { netlink.del_addr(index, v) };
    if let Err(e) = r {
        let what = if add { "add" } else { "remove" };
        log!(log, "({}) cannot {what} {}/{}: {e}", inst.name(), v.addr, v.prefix);
    }
}

fn rate_limits(instances: usize) -> Vec<RateLimit> {
    (0..(instances + 1) * WireError::ALL.len()).map(|_| RateLimit { last: None, suppressed: 0 }).collect()
}

impl Daemon {
    fn new(
        loaded: &Loaded,
        opts: &Options,
        sockets_changed: smol::channel::Sender<()>,
        syslog: Option<crate::sys::syslog::Syslog>,
    ) -> Result<Daemon, String> {
        let engine = Engine::new(&loaded.config).map_err(|e| format!("configuration: {e}"))?;
        let fx = Effects::with_capacity(engine.effects_capacity());
        let mut netlink = Netlink::open().map_err(|e| format!("netlink: {e}"))?;
        let r = resolve(&engine, &mut netlink)?;
        let timer = rustix::time::timerfd_create(
            rustix::time::TimerfdClockId::Monotonic,
            rustix::time::TimerfdFlags::NONBLOCK | rustix::time::TimerfdFlags::CLOEXEC,
        )
        .map_err(|e| format!("timerfd: {e}"))?;
        let (sockets, socket_of) = open_sockets(&engine, &r.ifindex, Vec::new())?;
        let announcer = Announcer::open().map_err(|e| format!("GARP socket: {e}"))?;
        let plan = Plan::build(&loaded.config)?;
        let files = watch_files(&plan)?;
        let instances = engine.instances().len();
        let r_ifaces = engine.ifaces().len();
        let mut d = Daemon {
            ip_id: vec![0; instances],
            engine,
            fx,
            netlink,
            announcer,
            sockets,
            ifindex: r.ifindex,
            mac: r.mac,
            socket_of,
            timer,
            armed: None,
            buf: AdvertBuf::new(),
            log: Log { detail: opts.detail, limits: rate_limits(instances), syslog, console: opts.log_console },
            release_vips: opts.release_vips,
            stopping: false,
            rx_copy: Box::new([0; 4096]),
            garp_gap: [loaded.config.globals.garp_interval, loaded.config.globals.gna_interval],
            pending: Vec::with_capacity(PENDING_MAX),
            next_free: vec![[Instant::ZERO; 2]; r_ifaces],
            send_errors: (0..instances).map(|_| RateLimit { last: None, suppressed: 0 }).collect(),
            send_streak: vec![0; instances],
            send_failed: Vec::with_capacity(instances),
            sd: crate::sys::sdnotify::SdNotify::from_env(),
            sockets_changed,
            plan,
            notifier: Notifier::new(),
            files,
            last_exit: None,
            rt_priority: None,
        };
        for p in d.notifier.adopt(&d.plan) {
            log!(d.log, "{p}");
        }
        // Links, addresses and tracked files first, then start: the engine
        // never sees an interface it has not been told about, and an
        // instance tracking a file starts with its value.
        log!(d.log, "vipd {} starting: {} instance(s)", env!("CARGO_PKG_VERSION"), instances);
        let now = clock::now();
        d.report_system(now, &r.links, &r.addrs);
        d.read_files(now);
        d.handle(now, Event::Start);
        Ok(d)
    }

    fn report_system(
        &mut self,
        now: Instant,
        links: &[crate::wire::netlink::LinkInfo],
        addrs: &[crate::wire::netlink::AddrInfo],
    ) {
        for l in links {
            if let Some(id) = self.iface_of_index(l.index) {
                self.handle(now, Event::Link { iface: id, up: netlink::link_is_up(l) });
            }
        }
        for a in addrs.iter().filter(|a| netlink::source_ready(a)) {
            if let Some(id) = self.iface_of_index(a.index) {
                self.handle(now, Event::Address { iface: id, addr: a.addr, present: true });
            }
        }
    }

    /// SIGHUP (keepalived-reference §3.4). A configuration with errors, or
    /// naming an interface that does not exist, changes nothing. Otherwise
    /// instances that stay the same virtual router keep their state; masters
    /// that go send priority 0 and release their addresses, and addresses
    /// dropped from a surviving master are removed; new instances start as
    /// at boot. Returns whether the configuration changed (the receive
    /// sockets may then be others: the caller restarts their readers).
    fn reload(&mut self, path: &Path, config_id: &str) -> bool {
        log!(self.log, "Reloading {}", path.display());
        if let Some(sd) = &self.sd {
            sd.send("RELOADING=1");
        }
        let done = self.reload_inner(path, config_id);
        if let Some(sd) = &self.sd {
            sd.send("READY=1");
        }
        done
    }

    /// Scheduling as `cfg` asks (sys::sched), logged and remembered.
    fn schedule(&mut self, cfg: &config::Config) {
        let fastest = cfg.instances.iter().map(|i| i.advert_int).min();
        self.rt_priority = crate::sys::sched::wanted_rt(&cfg.globals.sched, fastest);
        for line in crate::sys::sched::apply(&cfg.globals.sched, fastest) {
            log!(self.log, "{line}");
        }
    }

    fn reload_inner(&mut self, path: &Path, config_id: &str) -> bool {
        // Reading and checking a configuration is long work without a
        // blocking call: at real-time priority it could starve the machine
        // and reach RLIMIT_RTTIME. The new configuration's scheduling is
        // set at the end (the old one's if the reload is refused).
        let was_rt = crate::sys::sched::is_realtime();
        if was_rt {
            let _ = crate::sys::sched::set_normal();
        }
        let done = self.reload_work(path, config_id);
        if !done && was_rt {
            let _ = crate::sys::sched::set_realtime(self.rt_priority.unwrap_or(1));
        }
        done
    }

    fn reload_work(&mut self, path: &Path, config_id: &str) -> bool {
        let loaded = config::load(path, config_id);
        for d in &loaded.diagnostics {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        let host = if loaded.has_errors() { Vec::new() } else { host_checks(&loaded.config) };
        for d in &host {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        if loaded.has_errors() || host.iter().any(|d| d.severity == config::Severity::Error) {
            log!(self.log, "reload: the configuration has errors; keeping the running one");
            return false;
        }
        let plan = match Plan::build(&loaded.config).and_then(|p| watch_files(&p).map(|w| (p, w))) {
            Ok(p) => p,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        let mut engine = match Engine::new(&loaded.config) {
            Ok(e) => e,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        let r = match resolve(&engine, &mut self.netlink) {
            Ok(r) => r,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        // Release what the old configuration held and the new one does not.
        let masters: Vec<(InstanceId, Option<InstanceId>)> = self
            .engine
            .instances()
            .iter()
            .filter(|i| i.state == State::Master)
            .map(|o| (o.id, engine.reload_match(o)))
            .collect();
        // Instances the reload removes report STOP (DELETED with
        // `notify_deleted`) with their old scripts.
        for o in self.engine.instances() {
            if engine.reload_match(o).is_none() {
                if let Some((name, set)) = self.plan.instances.get(usize::from(o.id.0)) {
                    let what = if set.report_deleted() { What::Deleted } else { What::State(NotifyState::Stop) };
                    self.notifier.notify(set, false, name, what, o.effective_priority);
                }
            }
        }
        for &(id, keep) in &masters {
            if keep.is_none() {
                self.send_advert(id, 0);
                log!(self.log, "({}) removed by the reload: released with priority 0", self.name(id));
            }
            let Some(old) = self.engine.instance(id) else { continue };
            let keep = keep.and_then(|k| engine.instance(k));
            for v in old.cfg.vips.iter().chain(&old.cfg.excluded_vips) {
                let kept = keep.is_some_and(|n| n.cfg.vips.iter().chain(&n.cfg.excluded_vips).any(|w| w == v));
                if !kept {
                    vip_change(&mut self.netlink, &self.log, &self.engine, &self.ifindex, old, v, false);
                }
            }
        }
        let old_sockets = core::mem::take(&mut self.sockets);
        let (sockets, socket_of) = match open_sockets(&engine, &r.ifindex, old_sockets) {
            Ok(s) => s,
            Err(e) => {
                // The old sockets are gone with the failed attempt; without
                // sockets an instance must not stay master.
                log!(self.log, "reload: {e}; stopping");
                // The old sockets went into the failed attempt: no index may
                // point at them while stopping releases the addresses.
                self.socket_of.iter_mut().for_each(|s| *s = [None, None]);
                self.stop();
                return true;
            }
        };
        let instances = engine.instances().len();
        let mut fx = Effects::with_capacity(engine.effects_capacity());
        let now = clock::now();
        core::mem::swap(&mut self.engine, &mut engine);
        let old_engine = engine;
        self.fx = Effects::with_capacity(self.engine.effects_capacity());
        self.sockets = sockets;
        self.socket_of = socket_of;
        self.ifindex = r.ifindex;
        self.mac = r.mac;
        self.ip_id = vec![0; instances];
        self.log.limits = rate_limits(instances);
        self.send_errors = (0..instances).map(|_| RateLimit { last: None, suppressed: 0 }).collect();
        self.send_streak = vec![0; instances];
        self.send_failed = Vec::with_capacity(instances);
        self.garp_gap = [loaded.config.globals.garp_interval, loaded.config.globals.gna_interval];
        self.pending.clear();
        self.next_free = vec![[Instant::ZERO; 2]; self.engine.ifaces().len()];
        (self.plan, self.files) = plan;
        for p in self.notifier.adopt(&self.plan) {
            log!(self.log, "reload: {p}");
        }
        self.report_system(now, &r.links, &r.addrs);
        self.read_files(now);
        self.schedule(&loaded.config);
        self.engine.start_from(&old_engine, now, &mut fx);
        self.fx = fx;
        self.apply(now);
        self.rearm();
        log!(self.log, "Reload finished: {instances} instance(s)");
        true
    }

    fn iface_of_index(&self, index: u32) -> Option<IfaceId> {
        self.ifindex.iter().position(|&i| i == index && i != 0).map(|i| IfaceId(i as u16))
    }

    /// One event through the engine, then its effects, then the timer.
    fn handle(&mut self, now: Instant, event: Event<'_>) {
        self.fx.clear();
        self.engine.handle(now, event, &mut self.fx);
        self.apply(now);
        self.report_send_failures(now);
        self.rearm();
    }

    /// Adverts failing three times in a row: the engine takes the instance
    /// out of the election for a while rather than let it stay master
    /// unheard (design.md: never a second master by our own error).
    fn report_send_failures(&mut self, now: Instant) {
        while let Some(inst) = self.send_failed.pop() {
            log!(self.log, "({}) adverts cannot be sent; entering FAULT for one master-down interval", self.name(inst));
            self.fx.clear();
            self.engine.handle(now, Event::SendFailed { inst }, &mut self.fx);
            self.apply(now);
        }
    }

    fn rearm(&mut self) {
        let queued = self.pending.iter().map(|p| p.at).min();
        let next = match (self.engine.next_deadline(), queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if next == self.armed {
            return;
        }
        // Zero disarms; a deadline already past fires at once (1 ns).
        let (sec, nsec) = match next {
            None => (0, 0),
            Some(t) => {
                let us = t.as_micros().max(1);
                ((us / 1_000_000) as i64, ((us % 1_000_000) * 1_000) as i64)
            }
        };
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: rustix::time::Timespec { tv_sec: sec, tv_nsec: nsec },
        };
        match rustix::time::timerfd_settime(&self.timer, rustix::time::TimerfdTimerFlags::ABSTIME, &spec) {
            // Remembered only when armed, so a failure is retried next time.
            Ok(_) => self.armed = next,
            Err(e) => log!(self.log, "cannot arm the timer: {e}"),
        }
    }

    fn apply(&mut self, now: Instant) {
        // Taken out so effects can be carried out with `&mut self`; the
        // buffer goes back with its capacity, so nothing allocates.
        let mut fx = core::mem::take(&mut self.fx);
        // State lines first, as keepalived logs them before setting the
        // addresses; the effects themselves keep the engine's order.
        for e in fx.iter() {
            match *e {
                Effect::StateChange { inst, from, to, reason, .. } => self.log_state(inst, from, to, reason),
                // A script's verdict reads before the state change it causes.
                Effect::Log(l @ LogEvent::ScriptStatus { .. }) => self.log_event(now, l),
                _ => {}
            }
        }
        for e in fx.iter() {
            match *e {
                Effect::SendAdvert { inst, priority } => self.send_advert(inst, priority),
                Effect::AddVips { inst } => self.vips(inst, true),
                Effect::RemoveVips { inst } => self.vips(inst, false),
                Effect::Announce { inst, rounds } => self.announce(inst, rounds),
                Effect::AnnounceSource { inst } => self.announce_source(inst),
                // Logged above.
                Effect::StateChange { inst, to, notify, .. } => {
                    let state = match to {
                        State::Master => NotifyState::Master,
                        State::Backup => NotifyState::Backup,
                        State::Fault => NotifyState::Fault,
                        State::Init => continue,
                    };
                    if notify {
                        self.notify_instance(inst, What::State(state));
                    }
                }
                Effect::Notify { inst, state } => {
                    if state == NotifyState::Stop {
                        log!(self.log, "({}) Stopped", self.name(inst));
                    }
                    self.notify_instance(inst, What::State(state));
                }
                Effect::GroupState { group, state } => {
                    if let Some((name, set)) = self.plan.groups.get(usize::from(group.0)) {
                        log!(self.log, "VRRP_Group({name}) Syncing instances to {} state", state.name());
                        self.notifier.notify(set, true, name, What::State(state), 0);
                    }
                    self.report_fifo_drops();
                }
                Effect::Log(l) => {
                    match l {
                        LogEvent::MasterRxLowerPriority { inst, .. } => {
                            self.notify_instance(inst, What::MasterRxLowerPri)
                        }
                        LogEvent::PriorityChanged { inst, .. } => self.notify_priority(inst),
                        // Logged with the state lines.
                        LogEvent::ScriptStatus { .. } => continue,
                        _ => {}
                    }
                    self.log_event(now, l)
                }
            }
        }
        fx.clear();
        self.fx = fx;
    }

    /// Queues an instance's notify scripts and writes its FIFO line, with
    /// its effective priority now.
    fn notify_instance(&mut self, inst: InstanceId, what: What) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some((name, set)) = self.plan.instances.get(usize::from(inst.0)) else { return };
        self.notifier.notify(set, false, name, what, i.effective_priority);
        self.report_fifo_drops();
    }

    /// `notify_priority_changes`: MASTER_PRIORITY / BACKUP_PRIORITY.
    fn notify_priority(&mut self, inst: InstanceId) {
        let Some(i) = self.engine.instance(inst) else { return };
        let what = match i.state {
            State::Master => What::MasterPriority,
            State::Backup => What::BackupPriority,
            _ => return,
        };
        if self.plan.instances.get(usize::from(inst.0)).is_some_and(|(_, s)| s.priority_changes) {
            self.notify_instance(inst, what);
        }
    }

    /// A FIFO nobody reads fills up; its lines are dropped, never waited
    /// for. Said once per 100 drops.
    fn report_fifo_drops(&mut self) {
        let dropped = self.notifier.fifo_dropped();
        let last = self.notifier.fifo_dropped_logged;
        if dropped > last && (last == 0 || dropped / 100 > last / 100) {
            log!(self.log, "notify FIFO full (nobody reading?): {dropped} line(s) dropped so far");
            self.notifier.fifo_dropped_logged = dropped;
        }
        let dropped = self.notifier.jobs_dropped;
        let last = self.notifier.jobs_dropped_logged;
        if dropped > last && (last == 0 || dropped / 100 > last / 100) {
            log!(self.log, "notify scripts fall behind their events: {dropped} run(s) dropped so far");
            self.notifier.jobs_dropped_logged = dropped;
        }
    }

    /// A check script finished: log a change of verdict, then tell the
    /// engine.
    fn script_result(&mut self, check: &scripts::CheckPlan, exit: &crate::sys::script::Exit) {
        let before = self.engine.tracker_status(check.tracker);
        // For the verdict line the engine asks for (LogEvent::ScriptStatus).
        self.last_exit = Some((check.name.clone(), scripts::describe(exit)));
        self.handle(clock::now(), Event::ScriptResult { tracker: check.tracker, success: exit.success() });
        self.last_exit = None;
        if before == self.engine.tracker_status(check.tracker) && !exit.success() && self.log.detail {
            log!(self.log, "VRRP_Script({}) run failed ({})", check.name, scripts::describe(exit));
        }
    }

    /// Current values of the tracked files, as at start and after a reload.
    fn read_files(&mut self, now: Instant) {
        let mut values = Vec::new();
        if let Some(w) = &self.files {
            w.read_all(&mut |k, v| values.push((k, v)));
        }
        self.file_values(now, &values);
    }

    /// The tracked files' directory changed.
    fn on_files(&mut self) {
        let mut values = Vec::new();
        if let Some(w) = &mut self.files {
            w.drain(&mut |k, v| values.push((k, v)));
        }
        self.file_values(clock::now(), &values);
    }

    fn file_values(&mut self, now: Instant, values: &[(usize, i64)]) {
        for &(k, value) in values {
            let Some((tracker, path, ..)) = self.plan.files.get(k) else { continue };
            let tracker = *tracker;
            if self.log.detail {
                log!(self.log, "tracked file {} now holds {value}", path.display());
            }
            self.handle(now, Event::FileValue { tracker, value });
        }
    }

    fn name(&self, inst: InstanceId) -> &str {
        self.engine.instance(inst).map_or("?", |i| i.name())
    }

    fn send_advert(&mut self, inst: InstanceId, priority: u8) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some(src) = self.engine.source_addr(inst) else { return };
        let Some(sock) = self.socket_of[usize::from(i.iface.0)][family_slot(i.cfg.family)] else { return };
        let Some(advert) = self.engine.advert(inst, priority) else { return };
        let id = &mut self.ip_id[usize::from(inst.0)];
        *id = id.wrapping_add(1).max(1);
        let ip_id = *id;
        let ttl = if i.cfg.is_unicast() { i.cfg.unicast_ttl.unwrap_or(255) } else { 255 };
        let mode = i.cfg.v3_ipv4_checksum;
        let mut send = |dst: IpAddr| {
            let bytes = match self.buf.emit(&advert, src, dst, mode) {
                Ok(b) => b,
                Err(e) => {
                    log!(self.log, "({}) cannot build advert: {e}", i.name());
                    return;
                }
            };
            let Some(socket) = self.sockets.get(sock) else { return };
            let result = socket.send(src, dst, ttl, ip_id, bytes);
            let streak = &mut self.send_streak[usize::from(inst.0)];
            match &result {
                Ok(()) => *streak = 0,
                // Priority 0 goes out while leaving anyway.
                Err(_) if priority == 0 => {}
                Err(_) => {
                    *streak = streak.saturating_add(1);
                    if *streak == 3 && !self.send_failed.contains(&inst) {
                        self.send_failed.push(inst);
                    }
                }
            }
            if let Err(e) = result {
                let limit = &mut self.send_errors[usize::from(inst.0)];
                let now = clock::now();
                if limit.last.is_none_or(|t| now.saturating_since(t) >= ERROR_LOG_INTERVAL) {
                    limit.last = Some(now);
                    let more = core::mem::take(&mut limit.suppressed);
                    log!(
                        self.log,
                        "({}) cannot send advert to {dst}: {e} ({more} more since the last report)",
                        i.name()
                    );
                } else {
                    limit.suppressed = limit.suppressed.saturating_add(1);
                }
            }
        };
        if i.cfg.is_unicast() {
            for p in &i.cfg.unicast_peers {
                send(p.addr);
            }
        } else {
            send(i.group_addr());
        }
        if priority == 0 && self.log.detail {
            log!(self.log, "({}) sent 0 priority", i.name());
        }
    }

    fn vips(&mut self, inst: InstanceId, add: bool) {
        let Some(i) = self.engine.instance(inst) else { return };
        for v in i.cfg.vips.iter().chain(&i.cfg.excluded_vips) {
            vip_change(&mut self.netlink, &self.log, &self.engine, &self.ifindex, i, v, add);
        }
        if !add {
            // Never announce an address we no longer hold.
            let held = |a: IpAddr| i.cfg.vips.iter().chain(&i.cfg.excluded_vips).any(|v| v.addr == a);
            self.pending.retain(|p| !held(p.addr));
        }
        if self.log.detail {
            let what = if add { "setting" } else { "removing" };
            log!(self.log, "({}) {what} VIPs.", i.name());
        }
    }

    fn announce(&mut self, inst: InstanceId, rounds: u8) {
        let Some(i) = self.engine.instance(inst) else { return };
        let now = clock::now();
        for _ in 0..rounds {
            for v in i.cfg.vips.iter().chain(&i.cfg.excluded_vips) {
                let iface = match &v.dev {
                    Some(dev) => self.engine.iface_by_name(dev),
                    None => Some(i.iface),
                };
                let Some(f) = iface else { continue };
                let fam = usize::from(v.addr.is_ipv6());
                let gap = self.garp_gap[fam];
                let slot = &mut self.next_free[usize::from(f.0)][fam];
                let at = (*slot).max(now);
                if !gap.is_zero() {
                    *slot = at + gap;
                }
                if at > now && self.pending.len() < PENDING_MAX {
                    self.pending.push(PendingAnnounce { at, iface: f, addr: v.addr });
                } else {
                    announce_one(&self.announcer, &self.log, &self.engine, &self.ifindex, &self.mac, f, v.addr);
                }
            }
        }
        if self.log.detail {
            log!(self.log, "({}) Sending/queueing {rounds} round(s) of gratuitous ARPs/NAs", i.name());
        }
    }

    /// Sends the queued announcements that are due, in order.
    fn send_pending(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.pending.len() {
            let p = self.pending[k];
            if p.at <= now {
                announce_one(&self.announcer, &self.log, &self.engine, &self.ifindex, &self.mac, p.iface, p.addr);
                self.pending.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    fn announce_source(&mut self, inst: InstanceId) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some(src) = self.engine.source_addr(inst) else { return };
        let f = usize::from(i.iface.0);
        let r = match src {
            IpAddr::V4(a) => self.announcer.garp(self.ifindex[f], self.mac[f], a),
            IpAddr::V6(a) => self.announcer.na(self.ifindex[f], self.mac[f], a, false),
        };
        if let Err(e) = r {
            log!(self.log, "({}) cannot announce {src}: {e}", i.name());
        }
    }

    fn log_state(&self, inst: InstanceId, from: State, to: State, reason: crate::core::Reason) {
        let name = self.name(inst);
        match to {
            State::Init => {}
            State::Backup if from == State::Init => log!(self.log, "({name}) Entering BACKUP STATE (init)"),
            _ => log!(self.log, "({name}) Entering {to} STATE"),
        }
        if self.log.detail {
            log!(self.log, "({name}) {from} -> {to}: {reason}");
        }
    }

    fn log_event(&mut self, now: Instant, l: LogEvent) {
        match l {
            LogEvent::LowerPriorityDiscarded { inst, from, priority, .. } => {
                if self.log.detail {
                    log!(
                        self.log,
                        "({}) received lower priority ({priority}) advert from {from} - discarding",
                        self.name(inst)
                    );
                }
            }
            LogEvent::MasterRxLowerPriority { inst, from, priority, ours } => log!(
                self.log,
                "({}) Received advert from {from} with lower priority {priority}, ours {ours}, forcing new election",
                self.name(inst)
            ),
            LogEvent::PreemptDelayStarted { inst, until } => {
                log!(self.log, "({}) preempt delay started, until {until}", self.name(inst))
            }
            LogEvent::PriorityChanged { inst, from, to } => {
                log!(self.log, "({}) Changing effective priority from {from} to {to}", self.name(inst))
            }
            LogEvent::OwnerConflict { inst, from } => log!(
                self.log,
                "({}) CONFIGURATION ERROR: local instance and a remote instance ({from}) are both address owners; lowering ours to 254",
                self.name(inst)
            ),
            LogEvent::OwnAdvertSeen { inst, from } => {
                log!(
                    self.log,
                    "({}) WARNING: advert received from {from} with our own address and priority",
                    self.name(inst)
                )
            }
            LogEvent::RxError { inst, src, error } => self.log_rx_error(now, inst, src, error),
            LogEvent::ChecksumForm { inst, from, form } => {
                let form = match form {
                    crate::wire::vrrp::ChecksumForm::NoPseudoHeader => "RFC 9568 form (no pseudo-header)",
                    _ => "pseudo-header form (keepalived, RFC 5798)",
                };
                log!(self.log, "({}) {from} sends VRRPv3 checksums in the {form}", self.name(inst))
            }
            LogEvent::SyncGroupWait { inst } => {
                if self.log.detail {
                    log!(self.log, "({}) waiting for its sync group to become master", self.name(inst));
                }
            }
            LogEvent::AddressNotTracked { iface, addr } => {
                let name = self.engine.ifaces().get(usize::from(iface.0)).map_or("?", |f| f.name.as_str());
                log!(self.log, "`{name}` has more addresses than vipd tracks; {addr} is not used as an advert source")
            }
            LogEvent::ScriptStatus { up, .. } => {
                if let Some((name, why)) = &self.last_exit {
                    if up {
                        log!(self.log, "VRRP_Script({name}) succeeded");
                    } else {
                        log!(self.log, "VRRP_Script({name}) failed ({why})");
                    }
                }
            }
            LogEvent::VipDeleted { inst, addr } => {
                log!(self.log, "({}) virtual address {addr} was deleted; releasing mastership", self.name(inst))
            }
        }
    }

    fn log_rx_error(&mut self, now: Instant, inst: Option<InstanceId>, src: Option<IpAddr>, error: WireError) {
        let row = inst.map_or(self.engine.instances().len(), |i| usize::from(i.0));
        let Some(limit) = self.log.limits.get_mut(row * WireError::ALL.len() + error.index()) else { return };
        if limit.last.is_some_and(|t| now.saturating_since(t) < ERROR_LOG_INTERVAL) {
            limit.suppressed = limit.suppressed.saturating_add(1);
            return;
        }
        let suppressed = core::mem::take(&mut limit.suppressed);
        limit.last = Some(now);
        let who = inst.map_or("?", |i| self.name(i));
        log!(self.log, "({who}) discarded advert{}: {error}{}", FromAddr(src), Suppressed(suppressed));
    }

    fn on_packet(&mut self, sock: usize) -> io::Result<bool> {
        // A reader may run once more after its socket was replaced, before
        // the loop restarts the readers: an index that is gone reads nothing.
        let Some(s) = self.sockets.get(sock) else { return Ok(false) };
        let Some(iface) = self.iface_of_index(s.ifindex()) else { return Ok(false) };
        let family = s.family();
        let Some(s) = self.sockets.get_mut(sock) else { return Ok(false) };
        let rx = match s.recv()? {
            None => return Ok(false),
            Some(Rx::Bad { error, .. }) => Err(error),
            Some(Rx::Packet { src, dst, ttl, payload }) => {
                let n = payload.len().min(self.rx_copy.len());
                self.rx_copy[..n].copy_from_slice(&payload[..n]);
                Ok((src, dst, ttl, n))
            }
        };
        let now = clock::now();
        match rx {
            Err(error) => self.handle(now, Event::RxError { iface, family, vrid: None, error }),
            Ok((src, dst, ttl, n)) => {
                // The advert borrows `rx_copy` while the engine and the effect
                // buffer are borrowed mutably: disjoint fields, no copy.
                self.fx.clear();
                match Advert::parse(&self.rx_copy[..n], src, dst) {
                    Ok((advert, checksum)) => {
                        let ev = Event::Advert(RxAdvert { iface, src, dst, ttl, advert, checksum });
                        self.engine.handle(now, ev, &mut self.fx);
                    }
                    Err(error) => {
                        let vrid = crate::wire::vrrp::peek_vrid(&self.rx_copy[..n]);
                        self.engine.handle(now, Event::RxError { iface, family, vrid, error }, &mut self.fx);
                    }
                }
                self.apply(now);
                self.report_send_failures(now);
                self.rearm();
            }
        }
        Ok(true)
    }

    fn on_netlink(&mut self) {
        while let Some(ev) = self.netlink.next_event() {
            let now = clock::now();
            match ev {
                NetEvent::Link { index, up, deleted, name, mac } => {
                    if !deleted {
                        self.follow_new_index(&name, index, mac);
                    }
                    if let Some(iface) = self.iface_of_index(index) {
                        self.handle(now, Event::Link { iface, up: up && !deleted });
                    }
                }
                NetEvent::Addr { index, addr, present, .. } => {
                    if let Some(iface) = self.iface_of_index(index) {
                        self.handle(now, Event::Address { iface, addr, present });
                    }
                }
                NetEvent::Overrun => {
                    log!(self.log, "netlink: receive buffer overrun, re-reading links and addresses");
                    self.resync(now);
                }
            }
        }
    }

    /// An interface of ours came back under a new index (deleted and
    /// created again): follow it and reopen its VRRP sockets, which were
    /// bound to the old one. The event loop restarts the socket readers.
    fn follow_new_index(&mut self, name: &str, index: u32, mac: Option<[u8; 6]>) {
        let Some(id) = self.engine.iface_by_name(name) else { return };
        let f = usize::from(id.0);
        if self.ifindex.get(f) == Some(&index) {
            // Same interface; its MAC may have changed (bond fail-over).
            if let (Some(m), Some(slot)) = (mac, self.mac.get_mut(f)) {
                *slot = m;
            }
            return;
        }
        if f >= self.ifindex.len() {
            return;
        }
        self.ifindex[f] = index;
        if let Some(m) = mac {
            self.mac[f] = m;
        }
        let keep: Vec<VrrpSocket> =
            core::mem::take(&mut self.sockets).into_iter().filter(|s| self.ifindex.contains(&s.ifindex())).collect();
        match open_sockets(&self.engine, &self.ifindex, keep) {
            Ok((sockets, socket_of)) => {
                self.sockets = sockets;
                self.socket_of = socket_of;
                log!(self.log, "interface `{name}` is back as index {index}; its sockets are reopened");
            }
            Err(e) => {
                // Without sockets no instance may stay master.
                log!(self.log, "interface `{name}` is back but {e}; stopping");
                self.socket_of.iter_mut().for_each(|s| *s = [None, None]);
                self.stop();
            }
        }
        let _ = self.sockets_changed.try_send(());
    }

    /// After a netlink overrun the events in between are lost: compare a
    /// fresh dump with what the engine knows and report the differences,
    /// deletions included (a link gone, a source address gone, a VIP
    /// deleted by hand).
    fn resync(&mut self, now: Instant) {
        let (links, addrs) = match self.netlink.dump() {
            Ok(d) => d,
            Err(e) => {
                log!(self.log, "netlink: cannot re-read links and addresses: {e}");
                return;
            }
        };
        for l in &links {
            if !l.name.is_empty() {
                self.follow_new_index(l.name.as_str(), l.index, l.mac);
            }
            if let Some(iface) = self.iface_of_index(l.index) {
                self.handle(now, Event::Link { iface, up: netlink::link_is_up(l) });
            }
        }
        // Additions before removals, so a replaced source address never
        // looks missing in between.
        for a in addrs.iter().filter(|a| netlink::source_ready(a)) {
            if let Some(iface) = self.iface_of_index(a.index) {
                self.handle(now, Event::Address { iface, addr: a.addr, present: true });
            }
        }
        for f in 0..self.ifindex.len() {
            let index = self.ifindex[f];
            let iface = IfaceId(f as u16);
            if !links.iter().any(|l| l.index == index) {
                self.handle(now, Event::Link { iface, up: false });
                continue;
            }
            let on_link =
                |a: &IpAddr| addrs.iter().any(|x| x.index == index && x.addr == *a && netlink::source_ready(x));
            let gone: Vec<IpAddr> = self.engine.ifaces()[f].addrs().iter().copied().filter(|a| !on_link(a)).collect();
            // Addresses masters hold on this interface.
            let mut lost_vips: Vec<IpAddr> = Vec::new();
            for i in self.engine.instances().iter().filter(|i| i.state == State::Master) {
                for v in i.cfg.vips.iter().chain(&i.cfg.excluded_vips) {
                    let dev = v.dev.as_deref().and_then(|d| self.engine.iface_by_name(d)).unwrap_or(i.iface);
                    if dev == iface && !on_link(&v.addr) {
                        lost_vips.push(v.addr);
                    }
                }
            }
            for addr in gone.into_iter().chain(lost_vips) {
                self.handle(now, Event::Address { iface, addr, present: false });
            }
        }
    }

    fn on_timer(&mut self) {
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
        self.armed = None;
        let now = clock::now();
        self.send_pending(now);
        if self.engine.next_deadline().is_some_and(|t| t <= now) {
            self.handle(now, Event::Timer);
        } else {
            self.rearm();
        }
    }

    /// Graceful stop: priority 0 from masters, addresses released (unless
    /// `-V`), STOP logged.
    fn stop(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        if let Some(sd) = &self.sd {
            sd.send("STOPPING=1");
        }
        let release_vips = self.release_vips;
        self.handle(clock::now(), Event::Shutdown { release_vips });
        // The STOP notifications are queued; nothing more will be.
        self.notifier.close_lanes();
        self.notifier.cancel_checks();
    }
}

fn dup_async(fd: impl AsFd) -> io::Result<Async<OwnedFd>> {
    let dup = rustix::io::fcntl_dupfd_cloexec(fd, 0)?;
    Async::new_nonblocking(dup)
}

/// Copies of the VRRP sockets' fds, registered with the reactor, in the
/// daemon's socket order.
fn socket_dups(d: &Rc<RefCell<Daemon>>) -> io::Result<Vec<Async<OwnedFd>>> {
    d.borrow().sockets.iter().map(|s| dup_async(s.as_fd())).collect()
}

/// The hot path: the timer, netlink and every VRRP socket, polled by the
/// loop's top-level future rather than by tasks. Their wakeups then reach
/// `block_on` directly instead of passing through the executor's run
/// queue, which allocates a block every few dozen wakeups; a steady master
/// or backup allocates nothing.
///
/// Each ready source is served once per wakeup (a socket drains at most 64
/// packets), so one busy input cannot starve the others or the signals;
/// sockets come before the timer.
async fn hot_path(
    d: &Rc<RefCell<Daemon>>,
    timer: &Async<OwnedFd>,
    nl: &Async<OwnedFd>,
    sockets: &RefCell<Vec<Async<OwnedFd>>>,
) -> io::Result<()> {
    use core::task::Poll;
    let ready = |src: &Async<OwnedFd>, cx: &mut core::task::Context<'_>| -> io::Result<bool> {
        match core::pin::Pin::new(&mut src.readable()).poll(cx) {
            Poll::Ready(r) => r.map(|()| true),
            Poll::Pending => Ok(false),
        }
    };
    smol::future::poll_fn(|cx| {
        let mut step = || -> io::Result<()> {
            // Adverts first: after a stall (a loaded machine), those already
            // queued must be seen before a backup's down timer, which was
            // due meanwhile, is acted on. Otherwise the backup would take
            // over from a master that is alive.
            let socks = sockets.borrow();
            for (i, s) in socks.iter().enumerate() {
                if !ready(s, cx)? {
                    continue;
                }
                for _ in 0..64 {
                    let got = d.borrow_mut().on_packet(i);
                    match got {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            d.borrow().log.line(format_args!("receive error: {e}"));
                            break;
                        }
                    }
                }
                // Armed again; fires at once if packets are left.
                ready(s, cx)?;
            }
            drop(socks);
            if ready(nl, cx)? {
                d.borrow_mut().on_netlink();
                ready(nl, cx)?;
            }
            if ready(timer, cx)? {
                d.borrow_mut().on_timer();
                // Registers for the next expiry.
                ready(timer, cx)?;
            }
            Ok(())
        };
        match step() {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    })
    .await
}

/// Tasks that run scripts or watch files, restarted with each configuration.
#[derive(Default)]
struct ScriptTasks {
    /// Check tasks, FIFO readers and the file watcher of this configuration.
    checks: Vec<smol::Task<()>>,
    /// Cancelled check tasks still stopping their scripts.
    retired: Vec<smol::Task<()>>,
    /// Notify lanes; each ends once its sender is gone and its queue empty.
    lanes: Vec<smol::Task<()>>,
}

impl ScriptTasks {
    /// Starts what a new configuration (or the first one) asks for.
    fn refresh(&mut self, ex: &smol::LocalExecutor<'_>, d: &Rc<RefCell<Daemon>>) -> io::Result<()> {
        self.retired.retain(|t| !t.is_finished());
        self.lanes.retain(|t| !t.is_finished());
        let mut dm = d.borrow_mut();
        let detail = dm.log.detail;
        let kill = dm.notifier.lane_kill_rx.clone();
        for rx in dm.notifier.new_lanes.drain(..) {
            self.lanes.push(ex.spawn(lane_task(d.clone(), rx, kill.clone(), detail)));
        }
        if !dm.notifier.checks_changed {
            return Ok(());
        }
        dm.notifier.checks_changed = false;
        // The old tasks saw their cancel channel close; let them finish.
        self.retired.append(&mut self.checks);
        let cancel = dm.notifier.check_cancel_rx.clone();
        for c in &dm.plan.checks {
            self.checks.push(ex.spawn(check_task(d.clone(), c.clone(), cancel.clone(), detail)));
        }
        for (p, fifo) in &dm.plan.fifo_readers {
            let path = fifo.display().to_string();
            self.checks.push(ex.spawn(fifo_reader(d.clone(), p.clone(), path, cancel.clone(), detail)));
        }
        if let Some(w) = &dm.files {
            let ready = dup_async(w.fd())?;
            let df = d.clone();
            let cancel = cancel.clone();
            self.checks.push(ex.spawn(async move {
                // Checked first: after a reload this task's fd is the old
                // watcher's, which nobody drains any more, so it would stay
                // readable and spin.
                while !cancel.is_closed() && ready.readable().await.is_ok() {
                    if cancel.is_closed() {
                        return;
                    }
                    df.borrow_mut().on_files();
                }
            }));
        }
        Ok(())
    }

    /// After `Daemon::stop`: queued notifications get `STOP_WAIT`, then
    /// whatever still runs is stopped (SIGTERM, SIGKILL after the grace)
    /// and reaped before the process exits.
    async fn wind_down(&mut self, d: &Rc<RefCell<Daemon>>) {
        let soon = std::time::Instant::now() + scripts::STOP_WAIT;
        settle(&mut self.lanes, soon).await;
        d.borrow_mut().notifier.lane_kill = None;
        let later = std::time::Instant::now() + crate::sys::script::KILL_GRACE + StdDuration::from_millis(500);
        settle(&mut self.lanes, later).await;
        settle(&mut self.checks, later).await;
        settle(&mut self.retired, later).await;
    }
}

use std::time::Duration as StdDuration;

/// Waits for `tasks` to finish until `until`; those left keep running.
async fn settle(tasks: &mut Vec<smol::Task<()>>, until: std::time::Instant) {
    while let Some(t) = tasks.last_mut() {
        let done = smol::future::or(
            async {
                t.await;
                true
            },
            async {
                Timer::at(until).await;
                false
            },
        )
        .await;
        if !done {
            return;
        }
        tasks.pop();
    }
}

/// Sleeps until `t`; false when cancelled first.
async fn sleep_until(t: std::time::Instant, cancel: &smol::channel::Receiver<()>) -> bool {
    smol::future::or(
        async {
            Timer::at(t).await;
            true
        },
        async {
            // Nobody sends: the channel closes when the daemon drops the
            // sender (reload, stop).
            let _ = cancel.recv().await;
            false
        },
    )
    .await
}

/// Runs one check script every `interval`, never two at once: a run that
/// outlasts the interval delays the next one instead.
async fn check_task(
    d: Rc<RefCell<Daemon>>,
    plan: scripts::CheckPlan,
    cancel: smol::channel::Receiver<()>,
    detail: bool,
) {
    let mut next = std::time::Instant::now() + plan.offset;
    loop {
        if !sleep_until(next, &cancel).await {
            return;
        }
        let started = std::time::Instant::now();
        let dl = d.clone();
        let name = plan.name.clone();
        let mut out = move |line: &str| dl.borrow().log.line(format_args!("VRRP_Script({name}) output: {line}"));
        let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
        let exit = crate::sys::script::run(&plan.script, &[], Some(plan.timeout), &cancel, output).await;
        // A run that ended as a reload cancelled it: its tracker id belongs
        // to the old configuration.
        if exit == crate::sys::script::Exit::Cancelled || cancel.is_closed() {
            return;
        }
        d.borrow_mut().script_result(&plan, &exit);
        next = started + plan.interval;
        let now = std::time::Instant::now();
        if next < now {
            if detail {
                d.borrow()
                    .log
                    .line(format_args!("VRRP_Script({}) ran longer than its interval; next run now", plan.name));
            }
            next = now;
        }
    }
}

/// Runs an instance's or group's notify scripts one after another.
async fn lane_task(
    d: Rc<RefCell<Daemon>>,
    jobs: smol::channel::Receiver<scripts::Job>,
    kill: smol::channel::Receiver<()>,
    detail: bool,
) {
    while let Ok(job) = jobs.recv().await {
        let cmd = scripts::command_line(&job.script, job.extra.as_ref());
        if kill.is_closed() {
            d.borrow().log.line(format_args!("{} ({cmd}): not run, stopping", job.label));
            continue;
        }
        let extra: Vec<&str> = job.extra.iter().flatten().map(String::as_str).collect();
        let dl = d.clone();
        let label = job.label.clone();
        let mut out = move |line: &str| dl.borrow().log.line(format_args!("{label} output: {line}"));
        let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
        let exit = crate::sys::script::run(&job.script, &extra, Some(scripts::NOTIFY_TIMEOUT), &kill, output).await;
        d.borrow().log.line(format_args!("{} ({cmd}): {}", job.label, scripts::describe(&exit)));
    }
}

/// `notify_fifo_script`: started once with the FIFO path appended, stopped
/// with the configuration.
async fn fifo_reader(
    d: Rc<RefCell<Daemon>>,
    script: Rc<crate::sys::script::Prepared>,
    fifo: String,
    cancel: smol::channel::Receiver<()>,
    detail: bool,
) {
    let dl = d.clone();
    let mut out = move |line: &str| dl.borrow().log.line(format_args!("notify_fifo_script output: {line}"));
    let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
    let exit = crate::sys::script::run(&script, &[fifo.as_str()], None, &cancel, output).await;
    if exit != crate::sys::script::Exit::Cancelled {
        let cmd = scripts::command_line(&script, None);
        d.borrow().log.line(format_args!("notify_fifo_script ({cmd} {fifo}) ended: {}", scripts::describe(&exit)));
    }
}

async fn main_loop(
    ex: &smol::LocalExecutor<'_>,
    d: Rc<RefCell<Daemon>>,
    opts: &Options,
    sockets_changed: smol::channel::Receiver<()>,
    signals: crate::sys::signals::Signals,
) -> io::Result<()> {
    let mut scripts = ScriptTasks::default();
    let result = serve(ex, &d, opts, sockets_changed, signals, &mut scripts).await;
    d.borrow_mut().stop();
    scripts.wind_down(&d).await;
    result
}

async fn serve(
    ex: &smol::LocalExecutor<'_>,
    d: &Rc<RefCell<Daemon>>,
    opts: &Options,
    sockets_changed: smol::channel::Receiver<()>,
    signals: crate::sys::signals::Signals,
    scripts: &mut ScriptTasks,
) -> io::Result<()> {
    scripts.refresh(ex, d)?;
    let timer = dup_async(&d.borrow().timer)?;
    let nl = dup_async(d.borrow().netlink.event_fd())?;
    let sockets = RefCell::new(socket_dups(d)?);
    let control = control(ex, d, opts, sockets_changed, signals, scripts, &sockets);
    smol::future::or(hot_path(d, &timer, &nl, &sockets), control).await
}

/// Signals, reloads and reopened sockets.
async fn control(
    ex: &smol::LocalExecutor<'_>,
    d: &Rc<RefCell<Daemon>>,
    opts: &Options,
    sockets_changed: smol::channel::Receiver<()>,
    signals: crate::sys::signals::Signals,
    scripts: &mut ScriptTasks,
    sockets: &RefCell<Vec<Async<OwnedFd>>>,
) -> io::Result<()> {
    loop {
        // A signal, or sockets reopened behind the readers' backs.
        let next = smol::future::or(async { Some(signals.next().await) }, async {
            let _ = sockets_changed.recv().await;
            None
        })
        .await;
        let sig = match next {
            None => {
                if d.borrow().stopping {
                    return Err(io::Error::other("an interface came back but its sockets could not be opened"));
                }
                *sockets.borrow_mut() = socket_dups(d)?;
                // The new copies are armed only when the hot path is polled
                // again; nothing else may wake it before a backup's down
                // timer does (a false takeover).
                smol::future::yield_now().await;
                continue;
            }
            Some(sig) => sig,
        };
        match sig? {
            libc::SIGXCPU => {
                let _ = crate::sys::sched::set_normal();
                d.borrow().log.line(format_args!(
                    "used the CPU for longer than vrrp_rlimit_rttime at real-time priority: back to normal scheduling"
                ));
            }
            libc::SIGCHLD => {
                crate::sys::script::reap_orphans();
            }
            libc::SIGHUP => {
                let reloaded = d.borrow_mut().reload(&opts.config, &opts.config_id);
                if d.borrow().stopping {
                    return Err(io::Error::other("the reload left no usable sockets"));
                }
                if reloaded {
                    *sockets.borrow_mut() = socket_dups(d)?;
                    scripts.refresh(ex, d)?;
                    // As above: the hot path must arm the new copies now.
                    smol::future::yield_now().await;
                }
            }
            _ => {
                d.borrow_mut().stop();
                return Ok(());
            }
        }
    }
}
