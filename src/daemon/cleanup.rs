//! `vipd cleanup`: removes the configured virtual addresses that a daemon
//! killed without a chance to stop (SIGKILL, the OOM killer, a crash) left
//! on its interfaces, where they would stay while the peer takes them over,
//! so both hold them. Service managers run it after an unclean exit
//! (`scripts/systemd/vipd.service`, `scripts/runit/vipd/finish`).
//!
//! Two rules it must never break: it removes nothing while a daemon for the
//! same pid file or control socket is alive (that daemon may be master),
//! and it removes nothing the configuration does not list as a virtual
//! address on that interface with that prefix. Which interface holds which
//! address is the engine's answer, the one the daemon acts on; the removal
//! is the daemon's own `Netlink::del_addr`. It runs once, outside the event
//! loop, so it may allocate and block.

use core::net::IpAddr;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::exit;
use crate::config::{self, VipConfig};
use crate::core::Engine;
use crate::sys::netlink::Netlink;
use crate::wire::netlink::{AddrInfo, LinkInfo};

/// What the command line decides: the daemon's own flags.
#[derive(Clone, Debug)]
pub struct Options {
    pub config: PathBuf,
    pub config_id: String,
    pub pid_file: PathBuf,
    /// The daemon's control socket; None for `--control none`.
    pub control: Option<PathBuf>,
}

/// One configured address found on its interface, to be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub instance: String,
    pub iface: String,
    pub index: u32,
    pub vip: VipConfig,
}

/// What the configuration and the kernel's tables say to do.
#[derive(Debug, Default)]
pub struct Plan {
    pub remove: Vec<Target>,
    /// Configured addresses that are not on their interface.
    pub absent: usize,
    /// Why some configured addresses are left alone, one line each.
    pub skipped: Vec<String>,
}

macro_rules! say {
    ($w:expr, $($t:tt)*) => {{
        let _ = writeln!($w, $($t)*);
    }};
}

/// Runs `vipd cleanup`; returns the exit status (vipd(8) EXIT STATUS).
pub fn run(opts: &Options) -> u8 {
    let mut err = io::stderr().lock();
    // Every interface is taken to exist: one that is gone cannot hold an
    // address, and its instance's addresses elsewhere must still go.
    let loaded = config::load_with(&opts.config, None, &opts.config_id, &|_| true);
    // A configuration with errors is only partly read, so its list of
    // addresses cannot be trusted. The host checks of `vipd -t` are left
    // out: they concern scripts, which change nothing about which addresses
    // are ours, and refusing over them would leave the addresses doubled.
    // The errors themselves are `vipd -t`'s to list: a service manager
    // runs this after every failed start, whose log already has them.
    if loaded.has_errors() {
        let n = loaded.errors();
        say!(
            err,
            "vipd cleanup: {}: the configuration has {n} error{} (vipd -t lists them); nothing removed",
            opts.config.display(),
            if n == 1 { "" } else { "s" }
        );
        return exit::CONFIG;
    }
    let engine = match Engine::new(&loaded.config) {
        Ok(e) => e,
        Err(e) => {
            say!(err, "vipd cleanup: {}: {e}; nothing removed", opts.config.display());
            return exit::CONFIG;
        }
    };
    if let Some(why) = live_daemon(opts) {
        say!(err, "vipd cleanup: {why}; nothing removed (stop it with SIGTERM, which releases its addresses)");
        return exit::FATAL;
    }
    let mut netlink = match Netlink::open() {
        Ok(n) => n,
        Err(e) => {
            say!(err, "vipd cleanup: netlink: {e}; nothing removed");
            return exit::FATAL;
        }
    };
    let (links, addrs) = match netlink.dump() {
        Ok(t) => t,
        Err(e) => {
            say!(err, "vipd cleanup: netlink dump: {e}; nothing removed");
            return exit::FATAL;
        }
    };
    let plan = plan(&engine, &links, &addrs);
    for s in &plan.skipped {
        say!(err, "vipd cleanup: {s}");
    }
    let mut out = io::stdout().lock();
    // Rules and routes before the addresses, as the daemon removes them: a
    // route with `src VIP` goes with its address anyway.
    let mut extra = routes_and_rules(&engine, &mut netlink, &mut out, &mut err);
    let mut failed = 0usize;
    let mut asked = Vec::with_capacity(plan.remove.len());
    for t in &plan.remove {
        match netlink.del_addr(t.index, &t.vip) {
            Ok(()) => asked.push(t),
            Err(e) => {
                failed += 1;
                say!(
                    err,
                    "vipd cleanup: ({}) cannot remove {}/{} from {}: {e}",
                    t.instance,
                    t.vip.addr,
                    t.vip.prefix,
                    t.iface
                );
            }
        }
    }
    // The kernel answers "no such address" for a request that does not
    // match (a label changed by hand, say), which del_addr counts as gone:
    // only what the tables no longer show is reported removed.
    let after = match netlink.dump() {
        Ok((_, a)) => a,
        Err(e) => {
            say!(err, "vipd cleanup: netlink dump after removing: {e}; cannot confirm what was removed");
            return exit::FATAL;
        }
    };
    let mut removed = 0usize;
    for t in asked {
        if present(&after, t.index, t.vip.addr).is_some() {
            failed += 1;
            say!(
                err,
                "vipd cleanup: ({}) {}/{} is still on {} after removing it",
                t.instance,
                t.vip.addr,
                t.vip.prefix,
                t.iface
            );
        } else {
            removed += 1;
            say!(out, "vipd cleanup: ({}) removed {}/{} from {}", t.instance, t.vip.addr, t.vip.prefix, t.iface);
        }
    }
    // Last, the macvlans: their addresses are gone by now, so what they
    // held was reported address by address.
    macvlans(&engine, &links, &mut netlink, &mut out, &mut err, &mut extra);
    failed += extra.failed;
    say!(
        out,
        "vipd cleanup: {} removed, {} not present, {} left alone, {failed} failed",
        removed + extra.removed,
        plan.absent + extra.absent,
        plan.skipped.len() + extra.skipped
    );
    if failed > 0 { exit::FATAL } else { exit::OK }
}

/// What the passes over routes, rules and macvlans did.
#[derive(Debug, Default)]
struct Tally {
    removed: usize,
    absent: usize,
    skipped: usize,
    failed: usize,
}

impl Tally {
    /// One removal's outcome (`Ok(false)`: nothing matched), counted and
    /// said.
    fn note(&mut self, out: &mut impl Write, err: &mut impl Write, name: &str, what: &str, r: io::Result<bool>) {
        match r {
            Ok(true) => {
                self.removed += 1;
                say!(out, "vipd cleanup: ({name}) removed {what}");
            }
            Ok(false) => self.absent += 1,
            Err(e) => {
                self.failed += 1;
                say!(err, "vipd cleanup: ({name}) cannot remove {what}: {e}");
            }
        }
    }

    /// An entry without a protocol of its own: see [`routes_and_rules`].
    fn unmarked(&mut self, err: &mut impl Write, name: &str, what: &str) {
        self.skipped += 1;
        say!(err, "vipd cleanup: ({name}) {what}: no_track without protocol, not marked as vipd's, left alone");
    }
}

/// Every instance's virtual rules, then routes, deleted as the daemon
/// deletes them when it leaves MASTER. Only the entries vipd marks
/// (`protocol keepalived`, or the protocol a `no_track` entry names) are
/// asked for: the kernel matches a delete on the protocol when one is
/// given, so a route or rule someone else added stays. An unmarked one (a
/// `no_track` entry without `protocol`) would match whatever the kernel
/// finds first, the host's own connected route for instance, and is left
/// alone.
fn routes_and_rules(engine: &Engine, netlink: &mut Netlink, out: &mut impl Write, err: &mut impl Write) -> Tally {
    use super::routes::{index_of, route_spec, rule_spec};
    let mut t = Tally::default();
    for inst in engine.instances() {
        let name = inst.name();
        for r in inst.cfg.rules.iter() {
            let what = format!("rule preference {}", r.priority);
            if r.protocol == 0 {
                t.unmarked(err, name, &what);
                continue;
            }
            t.note(out, err, name, &what, netlink.del_rule_found(&rule_spec(r)));
        }
        for r in inst.cfg.routes.iter() {
            let what = if r.table == crate::wire::netlink::RT_TABLE_MAIN {
                format!("route {}/{}", r.dst, r.dst_len)
            } else {
                format!("route {}/{} table {}", r.dst, r.dst_len, r.table)
            };
            if r.protocol == 0 {
                t.unmarked(err, name, &what);
                continue;
            }
            let oif = match r.dev.as_deref().map(index_of) {
                // Its interface is gone, and its routes went with it.
                Some(0) => {
                    t.absent += 1;
                    continue;
                }
                dev => dev,
            };
            t.note(out, err, name, &what, netlink.del_route_found(&route_spec(r, oif)));
        }
    }
    t
}

/// The `use_vmac` interfaces: one of the configured name that carries the
/// instance's virtual MAC is the daemon's (it would have deleted it on
/// exit) and is deleted, so nothing is left that could answer for the
/// virtual MAC; one without that MAC is someone else's and stays. The
/// base interface's ARP sysctls the daemon changed are not put back: their
/// old values died with it (vipd(8) CLEANUP).
fn macvlans(
    engine: &Engine,
    links: &[LinkInfo],
    netlink: &mut Netlink,
    out: &mut impl Write,
    err: &mut impl Write,
    t: &mut Tally,
) {
    for inst in engine.instances() {
        let Some(v) = inst.cfg.vmac.as_ref() else { continue };
        let name = inst.name();
        let mac = inst.cfg.virtual_mac();
        let Some(link) = links.iter().find(|l| l.name.as_str() == v.name) else {
            t.absent += 1;
            continue;
        };
        if link.mac != Some(mac) {
            t.skipped += 1;
            say!(err, "vipd cleanup: ({name}) interface `{}` does not have the virtual MAC, left alone", v.name);
            continue;
        }
        let what = format!("macvlan {}", v.name);
        t.note(out, err, name, &what, netlink.del_link(link.index).map(|()| true));
    }
}

/// The configured addresses that are on their interface, as the daemon
/// would have added them there (same interface, same prefix).
pub fn plan(engine: &Engine, links: &[LinkInfo], addrs: &[AddrInfo]) -> Plan {
    let mut p = Plan::default();
    for inst in engine.instances() {
        for (v, iface) in inst.addresses() {
            let Some(name) = engine.ifaces().get(usize::from(iface.0)).map(|f| f.name.as_str()) else { continue };
            let Some(link) = links.iter().find(|l| l.name.as_str() == name) else {
                // The instance's macvlan is the daemon's: without it, its
                // addresses are simply not there.
                if inst.cfg.vmac.as_ref().is_some_and(|v| v.name == name) {
                    p.absent += 1;
                    continue;
                }
                p.skipped.push(format!(
                    "({}) {}/{}: interface `{name}` does not exist, skipped",
                    inst.name(),
                    v.addr,
                    v.prefix
                ));
                continue;
            };
            let Some(found) = present(addrs, link.index, v.addr) else {
                p.absent += 1;
                continue;
            };
            if found.prefixlen != v.prefix {
                // Not what the daemon adds: someone else's address.
                p.skipped.push(format!(
                    "({}) {} is on {name} as /{}, not /{} as configured, left alone",
                    inst.name(),
                    v.addr,
                    found.prefixlen,
                    v.prefix
                ));
                continue;
            }
            // Listed twice (two instances, or VIP and excluded VIP): one
            // removal.
            if p.remove.iter().any(|t| t.index == link.index && t.vip.addr == v.addr) {
                continue;
            }
            p.remove.push(Target {
                instance: inst.name().to_owned(),
                iface: name.to_owned(),
                index: link.index,
                vip: v.clone(),
            });
        }
    }
    p
}

fn present(addrs: &[AddrInfo], index: u32, addr: IpAddr) -> Option<&AddrInfo> {
    addrs.iter().find(|a| a.index == index && a.addr == addr)
}

/// Why a daemon for these options may be alive, or None when none is.
/// Anything it cannot tell counts as alive: removing a live master's
/// addresses is the failure this command must never cause.
fn live_daemon(opts: &Options) -> Option<String> {
    match std::fs::read_to_string(&opts.pid_file) {
        Ok(text) => {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != std::process::id() && is_live_vipd(pid) {
                    return Some(format!("{}: vipd is running as pid {pid}", opts.pid_file.display()));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Some(format!("{}: cannot read the pid file: {e}", opts.pid_file.display())),
    }
    let path = opts.control.as_deref()?;
    match crate::sys::control::connect(path) {
        Ok(_) => Some(format!("a daemon answers on {}", path.display())),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused) => None,
        Err(e) => Some(format!("cannot tell whether a daemon listens on {}: {e}", path.display())),
    }
}

/// Whether `pid` runs the vipd binary or is named vipd, and is not a
/// zombie (a killed daemon its parent has not reaped yet is gone).
fn is_live_vipd(pid: u32) -> bool {
    let proc = Path::new("/proc").join(pid.to_string());
    let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else { return false };
    // The state follows the command name's closing parenthesis.
    let state = stat.rfind(')').and_then(|i| stat.get(i + 1..)).and_then(|s| s.trim_start().chars().next());
    if matches!(state, Some('Z' | 'X' | 'x')) {
        return false;
    }
    let exe = std::fs::read_link(proc.join("exe")).ok();
    // An upgraded binary reads "vipd (deleted)".
    let exe_is_vipd = exe
        .as_ref()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.strip_suffix(" (deleted)").unwrap_or(n) == "vipd");
    let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
    exe_is_vipd || comm.trim() == "vipd"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::netlink::{AF_INET, AF_INET6};

    fn link(index: u32, name: &str) -> LinkInfo {
        LinkInfo {
            index,
            flags: 0,
            name: heapless::String::try_from(name).unwrap_or_default(),
            mac: None,
            operstate: None,
            mtu: None,
        }
    }

    fn addr(index: u32, a: &str, prefixlen: u8) -> AddrInfo {
        let addr: IpAddr = a.parse().unwrap();
        let family = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
        AddrInfo { index, family, prefixlen, flags: 0, scope: 0, addr, label: None }
    }

    fn engine(text: &str) -> Engine {
        let loaded = config::load_with(Path::new("t.conf"), Some(text), "id", &|_| true);
        assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
        Engine::new(&loaded.config).unwrap()
    }

    const CONF: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
        virtual_ipaddress {\n  10.1.0.100/24\n  10.1.0.101/24\n  10.2.0.100/24 dev eth1\n  10.3.0.100/24 dev gone0\n }\n \
        virtual_ipaddress_excluded {\n  fd00::100/64\n }\n}\n";

    #[test]
    fn plans_only_configured_addresses_on_their_interface_and_prefix() {
        let e = engine(CONF);
        let links = [link(2, "eth0"), link(3, "eth1")];
        let addrs = [
            addr(2, "10.1.0.1", 24),   // the host's own address: not a VIP
            addr(2, "10.1.0.100", 24), // a VIP
            addr(2, "10.1.0.101", 32), // a VIP's address with another prefix
            addr(3, "10.1.0.100", 24), // a VIP's address on another interface
            addr(3, "10.2.0.100", 24), // a VIP with `dev eth1`
            addr(2, "fd00::100", 64),  // an excluded VIP
            addr(2, "10.9.0.100", 24), // not configured at all
        ];
        let p = plan(&e, &links, &addrs);
        let got: Vec<(u32, String, u8)> =
            p.remove.iter().map(|t| (t.index, t.vip.addr.to_string(), t.vip.prefix)).collect();
        assert_eq!(
            got,
            [(2, "10.1.0.100".to_owned(), 24), (3, "10.2.0.100".to_owned(), 24), (2, "fd00::100".to_owned(), 64)]
        );
        assert_eq!(p.absent, 0);
        assert_eq!(p.skipped.len(), 2, "{:?}", p.skipped);
        assert!(p.skipped[0].contains("10.1.0.101 is on eth0 as /32, not /24"), "{:?}", p.skipped);
        assert!(p.skipped[1].contains("interface `gone0` does not exist"), "{:?}", p.skipped);
    }

    #[test]
    fn counts_configured_addresses_that_are_not_there() {
        let e = engine(CONF);
        let p = plan(&e, &[link(2, "eth0"), link(3, "eth1")], &[addr(2, "10.1.0.1", 24)]);
        assert!(p.remove.is_empty());
        assert_eq!(p.absent, 4);
    }

    #[test]
    fn another_program_or_no_process_is_not_a_live_vipd() {
        // This test binary is alive but neither named nor built as vipd.
        assert!(!is_live_vipd(std::process::id()));
        assert!(!is_live_vipd(u32::MAX));
    }
}
