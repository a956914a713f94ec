//! Start-up: the checks the reader cannot make (`host_checks`), the pid
//! file, capabilities, the kernel's view of the configured interfaces and
//! the VRRP receive sockets, the scheduling the configuration asks for, and
//! building the [`Daemon`] that starts the engine. Everything here runs
//! before the loop or during a reload, never per packet, so it may
//! allocate; it must not act on the engine's effects (that is `apply`).

use core::net::IpAddr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::log::rate_limits;
use super::{Daemon, Log, Notifier, Options, Plan, RateLimit};
use crate::config::{self, Family, Loaded};
use crate::core::{Effects, Engine, Event};
use crate::sys::clock;
use crate::sys::garp::Announcer;
use crate::sys::netlink::{self, Netlink};
use crate::sys::vrrp::VrrpSocket;
use crate::time::Instant;

/// Checks of the configuration against this machine that the reader
/// cannot make: script users, paths, permissions and
/// `enable_script_security` (vipd -t runs them too).
pub fn host_checks(cfg: &config::Config) -> Vec<config::Diagnostic> {
    crate::sys::script::check_config(cfg)
        .into_iter()
        .map(|(error, span, message)| config::Diagnostic {
            severity: if error { config::Severity::Error } else { config::Severity::Warning },
            span,
            message,
            hint: None,
        })
        .collect()
}

/// Subscribes to process events and counts the processes of every
/// `vrrp_track_process` (none: no socket).
pub(super) fn watch_processes(
    config: &crate::config::Config,
) -> Result<Option<(crate::sys::cnproc::Watcher, Vec<crate::config::TrackerId>)>, String> {
    let (mut ids, mut cfgs) = (Vec::new(), Vec::new());
    for (k, t) in config.trackers.iter().enumerate() {
        if let Some(p) = &t.process {
            if ids.len() == crate::sys::cnproc::MAX_TRACKERS {
                return Err("more than 64 vrrp_track_process blocks".into());
            }
            ids.push(crate::config::TrackerId(k as u16));
            cfgs.push(p.clone());
        }
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let w = crate::sys::cnproc::Watcher::new(&cfgs)
        .map_err(|e| format!("vrrp_track_process: cannot subscribe to the kernel's process events: {e}"))?;
    Ok(Some((w, ids)))
}

/// Creates `init_file`s and watches the tracked files of `plan`.
pub(super) fn watch_files(plan: &Plan) -> Result<Option<crate::sys::trackfile::Watcher>, String> {
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

pub(super) fn fail(args: core::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "vipd: {args}");
}

/// CAP_NET_ADMIN (12) for addresses, CAP_NET_RAW (13) for VRRP and ARP.
pub(super) fn check_capabilities() -> Result<(), &'static str> {
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
pub(super) struct PidFile(PathBuf);

impl PidFile {
    pub(super) fn create(path: &Path) -> Result<PidFile, String> {
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

pub(super) fn family_slot(f: Family) -> usize {
    match f {
        Family::V4 => 0,
        Family::V6 => 1,
    }
}

/// Kernel view of the engine's interfaces: ifindex and MAC per `IfaceId`.
pub(super) struct Resolved {
    pub(super) ifindex: Vec<u32>,
    pub(super) mac: Vec<[u8; 6]>,
    pub(super) links: Vec<crate::wire::netlink::LinkInfo>,
    pub(super) addrs: Vec<crate::wire::netlink::AddrInfo>,
}

pub(super) fn resolve(engine: &Engine, netlink: &mut Netlink) -> Result<Resolved, String> {
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
pub(super) type SocketIndex = Vec<[Option<usize>; 2]>;

pub(super) fn open_sockets(
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

/// One ARP or NA watcher and the VIPs of its interface and family: a
/// claim for anything else is not worth an event.
pub(super) struct Watch {
    pub(super) sock: crate::sys::claims::ClaimSocket,
    pub(super) vips: Vec<IpAddr>,
}

impl Daemon {
    /// (Re)opens the ARP/NA watchers for the running configuration: one per
    /// interface and family that holds VIPs. They are evidence, not a
    /// requirement: a failure (no CAP_NET_RAW, no IPv6) is logged once and
    /// vipd carries on without them.
    pub(super) fn open_claims(&mut self) {
        let mut watches = Vec::new();
        // Dry run: we hold no address, so another's claim is no evidence.
        if self.dry.is_some() {
            self.claims = watches;
            self.claims_gen = self.claims_gen.wrapping_add(1);
            return;
        }
        let mut failed = None;
        for (f, &ifindex) in self.ifindex.iter().enumerate() {
            for v6 in [false, true] {
                let mut vips = Vec::new();
                for inst in self.engine.instances() {
                    for (v, iface) in inst.addresses() {
                        if usize::from(iface.0) == f && v.addr.is_ipv6() == v6 {
                            vips.push(v.addr);
                        }
                    }
                }
                if vips.is_empty() || ifindex == 0 {
                    continue;
                }
                match crate::sys::claims::ClaimSocket::open(ifindex, v6, &vips) {
                    Ok(sock) => watches.push(Watch { sock, vips }),
                    Err(e) => failed = Some(e),
                }
            }
        }
        if let Some(e) = failed {
            log!(self.log, "cannot watch ARP/NA for other masters ({e}); split-brain detection will not see them");
        }
        self.claims = watches;
        self.claims_gen = self.claims_gen.wrapping_add(1);
    }

    pub(super) fn new(
        loaded: &Loaded,
        opts: &Options,
        sockets_changed: smol::channel::Sender<()>,
        syslog: Option<crate::sys::syslog::Syslog>,
        mut inherited: Option<super::upgrade::Inherited>,
        unreadable: bool,
    ) -> Result<Daemon, String> {
        // A dry run creates no macvlans: its engine homes their VIPs on
        // the base interfaces.
        let stripped = if opts.dry_run { super::dry_run::without_vmacs(&loaded.config) } else { None };
        let config = stripped.as_ref().unwrap_or(&loaded.config);
        let mut engine = Engine::new(config).map_err(|e| format!("configuration: {e}"))?;
        if opts.dry_run {
            engine.ignore_split_brain();
        }
        let fx = Effects::with_capacity(engine.effects_capacity());
        let mut netlink = Netlink::open().map_err(|e| format!("netlink: {e}"))?;
        // Before resolving: the macvlans are interfaces of the engine. On
        // any error below they are deleted again (Vmacs' drop).
        let mut vmacs = super::vmac::Vmacs::setup(config, &mut netlink)?;
        vmacs.index(&engine);
        let r = resolve(&engine, &mut netlink)?;
        let timer = rustix::time::timerfd_create(
            rustix::time::TimerfdClockId::Monotonic,
            rustix::time::TimerfdFlags::NONBLOCK | rustix::time::TimerfdFlags::CLOEXEC,
        )
        .map_err(|e| format!("timerfd: {e}"))?;
        let kept = inherited.as_mut().map(|i| core::mem::take(&mut i.vrrp)).unwrap_or_default();
        let (sockets, socket_of) = open_sockets(&engine, &r.ifindex, kept)?;
        let announcer = Announcer::open().map_err(|e| format!("GARP socket: {e}"))?;
        let plan = Plan::build(&loaded.config)?;
        let plan = if opts.dry_run { super::dry_run::dry_plan(plan) } else { plan };
        let files = watch_files(&plan)?;
        let processes = watch_processes(&loaded.config)?;
        let instances = engine.instances().len();
        let sends = engine.sends_capacity();
        let mut d = Daemon {
            ip_id: vec![0; instances],
            engine,
            fx,
            netlink,
            announcer,
            sockets,
            vmacs,
            ifindex: r.ifindex,
            mac: r.mac,
            socket_of,
            timer,
            armed: None,
            tx: super::tx::TxBatch::new(),
            log: Log { detail: opts.detail, limits: rate_limits(instances), syslog, console: opts.log_console },
            release_vips: opts.release_vips,
            statics: super::dry_run::statics(&loaded.config, opts.dry_run),
            stopping: false,
            rx_copy: Box::new([0; 4096]),
            send_errors: (0..instances).map(|_| RateLimit { last: None, suppressed: 0 }).collect(),
            sent: Vec::with_capacity(sends),
            sent_spare: Vec::with_capacity(sends),
            sd: crate::sys::sdnotify::SdNotify::from_env(),
            sd_ready: false,
            sockets_changed,
            plan,
            notifier: Notifier::new(),
            mail: super::mail::Mailer::new(),
            files,
            processes,
            last_exit: None,
            rt_priority: None,
            status: super::status::Record::new(),
            control_group: None,
            claims: Vec::new(),
            claims_gen: 0,
            claim_logged: None,
            upgrade: super::upgrade::Upgrade::new(opts),
            dry: opts.dry_run.then(|| super::dry_run::DryRun::new(instances)),
        };
        let snapshot = inherited.as_mut().map(|i| core::mem::take(&mut i.snapshot));
        let upgraded = inherited.is_some() || unreadable;
        d.upgrade.inherited = inherited;
        d.open_claims();
        for p in d.notifier.adopt(&d.plan) {
            log!(d.log, "{p}");
        }
        // Links, addresses and tracked files first, then start: the engine
        // never sees an interface it has not been told about, and an
        // instance tracking a file starts with its value.
        let how = match (upgraded, d.dry.is_some()) {
            (_, true) => "starting a DRY RUN (sending nothing, touching no address, running no notify script)",
            (true, false) => "upgraded",
            (false, false) => "starting",
        };
        log!(d.log, "vipd {} {how}: {} instance(s)", super::upgrade::version(), instances);
        let now = clock::now();
        d.report_system(now, &r.links, &r.addrs);
        d.read_files(now);
        d.read_processes(now);
        // Before any instance starts, as keepalived installs them.
        d.statics(true);
        match snapshot {
            Some(s) => d.start_from_snapshot(now, &s),
            None if upgraded => d.start_from_snapshot(now, &crate::core::Snapshot::default()),
            None => d.handle(now, Event::Start),
        }
        d.fresh_buffers();
        Ok(d)
    }

    pub(super) fn report_system(
        &mut self,
        now: Instant,
        links: &[crate::wire::netlink::LinkInfo],
        addrs: &[crate::wire::netlink::AddrInfo],
    ) {
        for l in links {
            if let Some(id) = self.iface_of_index(l.index) {
                self.handle_unarmed(now, Event::Link { iface: id, up: netlink::link_is_up(l) });
            }
        }
        for a in addrs.iter().filter(|a| netlink::source_ready(a)) {
            if let Some(id) = self.iface_of_index(a.index) {
                self.handle_unarmed(now, Event::Address { iface: id, addr: a.addr, present: true });
            }
        }
        self.rearm();
    }

    /// Scheduling as `cfg` asks (sys::sched), logged and remembered.
    pub(super) fn schedule(&mut self, cfg: &config::Config) {
        let fastest = cfg.instances.iter().map(|i| i.advert_int).min();
        self.rt_priority = crate::sys::sched::wanted_rt(&cfg.globals.sched, fastest);
        for line in crate::sys::sched::apply(&cfg.globals.sched, fastest) {
            log!(self.log, "{line}");
        }
    }
}
