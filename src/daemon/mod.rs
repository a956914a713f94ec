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
//! `smol::LocalExecutor`. (A SIGHUP's files are read and checked on a
//! short-lived worker that touches nothing else: see `reload`.) The hot inputs (timer, netlink, VRRP sockets) are
//! polled by the top-level future itself ([`tasks::hot_path`]), each
//! through its own `dup` of the fd, so nothing holds a borrow of the daemon
//! across an await; when an fd is readable the daemon is borrowed, the fd
//! drained without blocking and each event handed to the engine. Nothing on
//! that path allocates. Signals, reloads, check scripts and notify lanes
//! are tasks on the executor.
//!
//! This file is the table of contents: the [`Daemon`] that owns every
//! driver, [`run`], and the loop's wiring (one event through the engine,
//! then its effects, then the timer). What each step does lives beside it,
//! one concern per file; nothing here may grow behaviour of its own.
//!
//! - `startup`: checks, pid file, capabilities, interfaces, sockets.
//! - `inputs`: packets, netlink, the timer, script results, tracked files.
//! - `apply`: effects to the drivers, adverts sent, notifications queued.
//! - `addresses`: virtual addresses added or removed, GARPs/NAs sent.
//! - `reload`: SIGHUP (the files read on a worker thread, applied here).
//! - `log`: log lines and their rate limits.
//! - `tasks`: the hot path and the control task (signals, reopened sockets,
//!   keepalived's data and stats files on SIGUSR1 / SIGUSR2).
//! - `script_tasks`: check scripts, notify lanes, FIFO readers, file watcher.
//! - `scripts`: what the configuration's scripts, files and FIFOs are.
//! - `status`: the snapshot `vipd status` and the dump files render.
//! - `control`: the control socket's clients and requests.
//! - `metrics`: `GET /metrics` over HTTP (`--metrics`).
//! - `upgrade`, `handover`: `vipd upgrade` (re-executing in place, the
//!   snapshot's bytes).

use core::cell::RefCell;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;

use crate::config;
use crate::core::{Effects, Engine, Event};
use crate::sys::clock;
use crate::sys::garp::Announcer;
use crate::sys::netlink::Netlink;
use crate::sys::reactor::Async;
use crate::sys::vrrp::VrrpSocket;
use crate::time::Instant;

// First: the `log!` macro is textually scoped and the others use it.
#[macro_use]
mod log;

mod addresses;
mod apply;
pub mod cleanup;
mod control;
mod dry_run;
mod handover;
mod inputs;
mod mail;
mod metrics;
mod reload;
mod routes;
mod script_tasks;
mod scripts;
mod startup;
pub mod status;
mod tasks;
mod tx;
mod upgrade;
mod vmac;

use apply::SendOutcome;
use log::{Log, RateLimit};
use script_tasks::ScriptTasks;
use scripts::{Notifier, Plan};
use startup::{PidFile, SocketIndex, check_capabilities, fail};
use tasks::{control, dup_async, hot_path, socket_dups};

pub use startup::host_checks;
pub use upgrade::{SNAPSHOT_VERSION, version};

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
    /// `--control`: the control socket `vipd status` asks (None: none).
    pub control: Option<PathBuf>,
    /// `--control-group`: a group whose members may read status.
    pub control_group: Option<String>,
    /// `--metrics ADDR:PORT`: serve `GET /metrics` there.
    pub metrics: Option<std::net::SocketAddr>,
    /// `--dry-run`: run the engine on real adverts but send nothing and
    /// touch nothing (`dry_run`); no pid file.
    pub dry_run: bool,
    /// `--dump-dir`: where SIGUSR1 and SIGUSR2 write `keepalived.data` and
    /// `keepalived.stats` (default [`default_dump_dir`]).
    pub dump_dir: PathBuf,
}

/// Where keepalived 2.2.7 writes its signal files: `$TMPDIR`, else `/tmp`
/// (what keepalived-exporter reads).
pub fn default_dump_dir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/tmp"),
    }
}

/// Everything the loop needs, owned in one place.
struct Daemon {
    engine: Engine,
    fx: Effects,
    netlink: Netlink,
    announcer: Announcer,
    sockets: Vec<VrrpSocket>,
    /// `use_vmac` macvlans and their send sockets.
    vmacs: vmac::Vmacs,
    /// `IfaceId` → kernel ifindex (0: not present) and MAC.
    ifindex: Vec<u32>,
    mac: Vec<[u8; 6]>,
    /// `IfaceId` → socket index, per family.
    socket_of: SocketIndex,
    /// IP id of each instance's next IPv4 advert (keepalived counts from 1).
    ip_id: Vec<u16>,
    timer: OwnedFd,
    armed: Option<Instant>,
    /// Adverts waiting to leave by one `sendmmsg` (tx.rs).
    tx: tx::TxBatch,
    log: Log,
    release_vips: bool,
    /// static_ipaddress, static_routes, static_rules.
    statics: routes::Statics,
    stopping: bool,
    rx_copy: Box<[u8; 4096]>,
    /// Per instance: failed advert sends, logged rate-limited.
    send_errors: Vec<RateLimit>,
    /// What became of the adverts sent while carrying out effects, reported
    /// to the engine after they run (`report_sends`); the spare takes what
    /// the reports' own effects send meanwhile. Both sized by
    /// `Engine::sends_capacity`.
    sent: Vec<SendOutcome>,
    sent_spare: Vec<SendOutcome>,
    /// systemd's notification socket (`Type=notify`), if started by it.
    sd: Option<crate::sys::sdnotify::SdNotify>,
    /// READY=1 went out: STATUS= lines may follow (not before).
    sd_ready: bool,
    /// Tells the event loop to restart the socket readers.
    sockets_changed: smol::channel::Sender<()>,
    /// Scripts, tracked files and FIFOs of the running configuration.
    plan: Plan,
    notifier: Notifier,
    files: Option<crate::sys::trackfile::Watcher>,
    /// `vrrp_track_process` trackers: the watcher and the tracker ids it
    /// reports for, in its order.
    processes: Option<(crate::sys::cnproc::Watcher, Vec<crate::config::TrackerId>)>,
    /// The check script whose result is being handled, and how it ended.
    last_exit: Option<(Rc<str>, String)>,
    /// The real-time priority the running configuration asks for.
    rt_priority: Option<u8>,
    /// What only `vipd status` needs: start time, check scripts' last runs.
    status: status::Record,
    /// `--control-group` as a gid: who besides root and us may read status.
    control_group: Option<u32>,
    /// Per interface and family holding VIPs: who else claims them in ARP
    /// or NA (split-brain evidence). Empty when they could not be opened.
    claims: Vec<startup::Watch>,
    /// Bumped whenever `claims` is replaced, so the reader re-registers.
    claims_gen: u32,
    /// The last claim logged (-D), so a flood writes one line a second.
    claim_logged: Option<(core::net::IpAddr, Instant)>,
    /// `vipd upgrade`: how we were started, what a previous image left.
    upgrade: upgrade::Upgrade,
    /// E-mail alerts waiting and what became of them.
    mail: mail::Mailer,
    /// `--dry-run`: Some, and effects go through `dry_run`'s filter.
    dry: Option<dry_run::DryRun>,
}

/// Runs the daemon until SIGTERM/SIGINT. Returns the exit status.
pub fn run(opts: &Options) -> u8 {
    // First, before any thread starts: it edits the environment.
    let handed = upgrade::take();
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
    // A dry run takes no pid file: it runs beside a live daemon.
    let _pid = if opts.dry_run {
        None
    } else {
        match PidFile::create(&opts.pid_file) {
            Ok(p) => Some(p),
            Err(e) => {
                fail(format_args!("{e}"));
                return exit::FATAL;
            }
        }
    };
    // Signals are caught before anything is installed, so a SIGTERM during
    // start-up is handled by the loop (releasing) instead of killing us.
    // As process 1 or a subreaper, vipd inherits the orphans of scripts and
    // must reap them (SIGCHLD).
    let orphans = crate::sys::script::adopts_orphans();
    // SIGXCPU: the real-time CPU limit was hit (sys::sched). SIGUSR1 and
    // SIGUSR2 ask for keepalived's data and stats files; left at their
    // default action they would kill vipd with its addresses still up.
    let wanted: &[i32] = if orphans {
        &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGXCPU, libc::SIGUSR1, libc::SIGUSR2, libc::SIGCHLD]
    } else {
        &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGXCPU, libc::SIGUSR1, libc::SIGUSR2]
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
    let (inherited, unreadable) = match handed {
        None => (None, None),
        Some(Ok(h)) => (Some(upgrade::adopt(h)), None),
        Some(Err(e)) => (None, Some(e)),
    };
    if let Some(e) = &unreadable {
        fail(format_args!("upgrade: {e}; starting as a reload starts new instances"));
    }
    let mut daemon = match Daemon::new(&loaded, opts, changed_tx, syslog, inherited, unreadable.is_some()) {
        Ok(d) => d,
        Err(e) => {
            fail(format_args!("{e}"));
            return exit::FATAL;
        }
    };
    daemon.schedule(&loaded.config);
    // The parsed files are not needed any more (a reload reads them
    // again): about 1 KB per instance, not kept for the daemon's life.
    drop(loaded);
    // Configuration loaded and sockets open: ready for the service manager.
    if let Some(sd) = &daemon.sd {
        sd.send("READY=1\nSTATUS=running");
        // From now on every transition updates STATUS=; the first one now.
        daemon.sd_ready = true;
        daemon.report_states();
    }
    daemon.upgraded();
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

impl Daemon {
    /// One event through the engine, then its effects, then the timer.
    fn handle(&mut self, now: Instant, event: Event<'_>) {
        self.handle_unarmed(now, event);
        self.rearm();
    }

    /// [`Daemon::handle`] without re-arming the timer, for a batch of
    /// events (a netlink dump of 1,000 addresses) followed by one `rearm`:
    /// one timer re-arm (a syscall) instead of one per event.
    fn handle_unarmed(&mut self, now: Instant, event: Event<'_>) {
        self.fx.clear();
        self.engine.handle(now, event, &mut self.fx);
        // What the engine wrote (applying empties the buffer).
        let used = self.fx.len();
        self.apply(now);
        self.report_sends(now);
        self.shed_effects(used);
    }

    /// After a wakeup that wrote more than a few pages of effects (every
    /// instance at once: a start, a failover), their pages go back to the
    /// kernel: 320 KB stayed resident with 1,000 instances. One madvise on
    /// such rare wakeups, none on an advert's; no allocation.
    fn shed_effects(&mut self, used: usize) {
        const PAGES: usize = 4;
        if used * core::mem::size_of::<crate::core::Effect>() > PAGES * 4096 {
            let (ptr, len) = self.fx.clear_spare();
            crate::sys::mem::discard(ptr, len);
        }
    }

    /// After a start or a reload: the effect and send buffers are sized for
    /// the worst wakeup (every instance at once) and the start just wrote
    /// into a good part of them (0.8 MB for 1,000 instances). Fresh ones of
    /// the same capacity are untouched memory (the allocator maps large
    /// blocks on demand and unmaps freed ones) until a wakeup needs them:
    /// resident memory is what the loop uses, not what the start did.
    fn fresh_buffers(&mut self) {
        self.fx = Effects::with_capacity(self.engine.effects_capacity());
        // Outcomes not yet reported stay (a reload reports them with the
        // next event).
        if self.sent.is_empty() {
            self.sent = Vec::with_capacity(self.engine.sends_capacity());
        }
        self.sent_spare = Vec::with_capacity(self.engine.sends_capacity());
    }

    /// Every master's advert, sent now (see `Engine::advertise_early`).
    fn advertise_early(&mut self) {
        let now = clock::now();
        self.fx.clear();
        self.engine.advertise_early(now, &mut self.fx);
        self.apply(now);
        self.report_sends(now);
    }

    /// Tells the engine what became of the adverts the effects sent, in
    /// order, once they have all been carried out. The engine judges a run
    /// of failures (design.md: never a second master by our own error); its
    /// answer is carried out here, and what that sends is reported in turn.
    fn report_sends(&mut self, now: Instant) {
        while !self.sent.is_empty() {
            let spare = core::mem::take(&mut self.sent_spare);
            let mut batch = core::mem::replace(&mut self.sent, spare);
            for o in &batch {
                self.fx.clear();
                let ev = Event::Sent { inst: o.inst, priority: o.priority, ok: o.ok, count: o.count };
                self.engine.handle(now, ev, &mut self.fx);
                if !self.fx.is_empty() {
                    self.apply(now);
                }
            }
            batch.clear();
            self.sent_spare = batch;
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
        // keepalived removes its static addresses, routes and rules at
        // exit, with --dont-release-vrrp too (measured: 2.2.7 keeps only
        // the virtual ones then).
        self.statics(false);
        self.remove_vmacs();
        // The STOP notifications are queued; nothing more will be.
        self.notifier.close_lanes();
        self.notifier.cancel_checks();
    }

    /// Last in [`Daemon::stop`], once the addresses are gone and priority 0
    /// was sent: the `use_vmac` macvlans go (with `-V` they stay, holding
    /// the addresses left in place).
    fn remove_vmacs(&mut self) {
        if !self.release_vips {
            self.vmacs.keep();
            return;
        }
        for e in self.vmacs.remove(&mut self.netlink) {
            log!(self.log, "{e}");
        }
    }
}

/// The control socket, if asked for and possible. Failing to open it is
/// logged, not fatal: VRRP matters more than being able to ask about it.
fn open_control(opts: &Options, d: &Rc<RefCell<Daemon>>) -> Option<Async<crate::sys::control::ControlListener>> {
    let path = opts.control.as_ref()?;
    let group = match opts.control_group.as_deref().map(crate::sys::control::group_id).transpose() {
        Ok(g) => g,
        Err(e) => {
            log!(d.borrow().log, "control socket: {e}; vipd status will not answer");
            return None;
        }
    };
    d.borrow_mut().control_group = group;
    let kept = d.borrow_mut().upgrade.inherited.as_mut().and_then(|i| i.control.take());
    let opened = match kept {
        Some(fd) => crate::sys::control::ControlListener::adopt(fd, path),
        None => crate::sys::control::ControlListener::bind(path, group),
    }
    .and_then(Async::new_nonblocking);
    match opened {
        Ok(l) => Some(l),
        Err(e) => {
            log!(
                d.borrow().log,
                "control socket: cannot listen on {}: {e}; vipd status will not answer",
                path.display()
            );
            None
        }
    }
}

/// `--metrics ADDR:PORT`: Prometheus scrapes over HTTP, if asked for.
fn open_metrics(opts: &Options, d: &Rc<RefCell<Daemon>>) -> Option<Async<std::net::TcpListener>> {
    let addr = opts.metrics?;
    let kept = d.borrow_mut().upgrade.inherited.as_mut().and_then(|i| i.metrics.take());
    let opened = match kept {
        Some(fd) => Ok(std::net::TcpListener::from(fd)),
        None => std::net::TcpListener::bind(addr),
    }
    .and_then(Async::new);
    match opened {
        Ok(l) => Some(l),
        Err(e) => {
            log!(d.borrow().log, "metrics: cannot listen on {addr}: {e}; no /metrics");
            None
        }
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
    // Kept for as long as the loop runs; dropping it removes the socket.
    let control_l = open_control(opts, d);
    let metrics_l = open_metrics(opts, d);
    {
        use std::os::fd::{AsFd, AsRawFd};
        let up = &mut d.borrow_mut().upgrade;
        up.control_fd = control_l.as_ref().map(|l| l.get_ref().as_fd().as_raw_fd());
        up.metrics_fd = metrics_l.as_ref().map(|l| l.get_ref().as_fd().as_raw_fd());
        // What the new image did not adopt is closed now.
        up.inherited = None;
    }
    let _control = control_l.map(|l| ex.spawn(control::serve(d.clone(), l, control::CONTROL)));
    let _metrics = metrics_l.map(|l| ex.spawn(control::serve(d.clone(), l, metrics::HTTP)));
    let mail_rx = d.borrow().mail.receiver();
    let _mail = ex.spawn(mail::deliver_loop(d.clone(), mail_rx));
    let timer = dup_async(&d.borrow().timer)?;
    let nl = dup_async(d.borrow().netlink.event_fd())?;
    let sockets = RefCell::new(socket_dups(d)?);
    let control = control(ex, d, opts, sockets_changed, signals, scripts, &sockets);
    let watch = smol::future::or(watch_claims(d), script_tasks::run_probes(d));
    smol::future::or(hot_path(d, &timer, &nl, &sockets), smol::future::or(control, watch)).await
}

/// At most this many ARP/NA frames per socket and wakeup: a flood of them
/// must not starve the VRRP sockets or the timer, which the loop polls in
/// between.
const CLAIMS_PER_WAKEUP: usize = 16;

/// The ARP/NA watchers, polled by the loop's top-level future like the hot
/// path (no task, so no allocation per wakeup). Never completes; a reload
/// or a reopened interface replaces `claims` and bumps `claims_gen`, and
/// the next poll registers the new sockets.
async fn watch_claims(d: &Rc<RefCell<Daemon>>) -> io::Result<()> {
    use core::task::Poll;
    let mut seen = None;
    let mut socks: Vec<Async<OwnedFd>> = Vec::new();
    smol::future::poll_fn(|cx| {
        let now_gen = d.borrow().claims_gen;
        if seen != Some(now_gen) {
            seen = Some(now_gen);
            socks.clear();
            for w in &d.borrow().claims {
                // Only EMFILE and the like; the watch is evidence, so
                // without a copy of every socket (indexes must match
                // `claims`) there is simply none.
                let Ok(s) = dup_async(&w.sock) else {
                    socks.clear();
                    break;
                };
                socks.push(s);
            }
        }
        for (i, s) in socks.iter().enumerate() {
            if !matches!(core::pin::Pin::new(&mut s.readable()).poll(cx), Poll::Ready(Ok(()))) {
                continue;
            }
            for _ in 0..CLAIMS_PER_WAKEUP {
                let got = d.borrow_mut().on_claim(i);
                match got {
                    Ok(true) => {}
                    // An error is the interface going down (ENETDOWN),
                    // which netlink reports to the engine anyway.
                    Ok(false) | Err(_) => break,
                }
            }
            // Armed again; fires at once if frames are left.
            let _ = core::pin::Pin::new(&mut s.readable()).poll(cx);
        }
        Poll::Pending
    })
    .await
}
