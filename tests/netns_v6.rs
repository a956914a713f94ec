//! Real-network tests over IPv6: vipd against vipd and against keepalived 2.2
//! in both roles, multicast and unicast (`unicast_src_ip`/`unicast_peer`
//! with the routers' fd00:N:: addresses), and a pair of routers running an IPv4 and an IPv6 instance
//! side by side on the same interface. The lab is `tests/netns/lab.rs`
//! (network namespaces, a bridge, vipd and keepalived for real); this file
//! adds the IPv6 side: `fd00:N::/64` on the LAN (routers `::1` and `::2`,
//! client `::10`, VIP `fd00:N::100/64`), link-local addresses past DAD
//! before any daemon starts, a client pinging the IPv6 VIP, its neighbour
//! cache, and a capture of what the master sends. They need root; otherwise
//! each prints why it skips and passes.
//!
//! IPv6 instances are always VRRPv3 (keepalived-reference §2): adverts to
//! ff02::12 from the interface's link-local address with hop limit 255, VIPs
//! added `nodad`, unsolicited Neighbor Advertisements (Override set) when a
//! router becomes master. Every instance here sends adverts every 100 ms.
//! R1 has priority 150 (`state MASTER`), R2 100; `vk` means vipd on R1 and
//! keepalived on R2, `kv` the reverse. As in `tests/netns.rs`, the one timing
//! checked is the client's ping outage on every failover, against twice the
//! protocol's takeover time plus 200 ms.
//!
//! Run them with `cargo test --test netns_v6 -- --test-threads=2
//! --nocapture` to see the outages they measure. `VIPD_NETNS_KEEPALIVED_ONLY=1`
//! runs keepalived wherever a test asks for vipd (to tell a broken lab or a
//! wrong expectation from a vipd bug); `VIPD_NETNS_KEEP=1` keeps configs and
//! logs in `$TMPDIR/vipd-netns-<pid>-<test>/` for passing tests too.

// The lab serves tests/netns.rs too: what only that suite uses is unused here.
#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv6Addr};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Helper, Kind, Lab, Router, Vrrp};

/// How long "exactly one router holds the VIPs" must stay true to count as
/// converged: five adverts.
const SETTLE: Duration = Duration::from_millis(500);

/// R1 and R2 as the takeover times see them: VRRPv3, 100 ms adverts.
const HIGH: Vrrp = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, ..Vrrp::V3 };

/// One VRRPv3 instance on eth0 with 100 ms adverts and one VIP: the lab's
/// IPv4 VIP 10.N.0.100/24 or the IPv6 one, fd00:N::100/64.
#[derive(Clone, Copy, Debug)]
struct Inst {
    name: &'static str,
    vrid: u8,
    v6: bool,
    /// `unicast_src_ip` / `unicast_peer` with the routers' fd00:N:: addresses.
    unicast: bool,
}

/// The IPv6 instance, alone or next to [`VI_4`]: the same VRID, since
/// IPv4 and IPv6 are separate VRRP routers (RFC 5798 §5.2.3, different
/// multicast groups and virtual MACs).
const VI_6: Inst = Inst { name: "VI_6", vrid: 51, v6: true, unicast: false };
const VI_4: Inst = Inst { name: "VI_4", vrid: 51, v6: false, unicast: false };
/// VRRPv3 over IPv6 unicast: adverts to the peer's global address.
const VI_6U: Inst = Inst { unicast: true, ..VI_6 };
const DUAL: [Inst; 2] = [VI_4, VI_6];

fn router_name(r: Router) -> &'static str {
    match r {
        R1 => "r1",
        R2 => "r2",
        Router::R3 => "r3",
    }
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `kill -s SIG -- PID` through the shell's builtin, as lab.rs does.
fn signal(sig: &str, pid: &str) {
    let _ = Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\" 2>/dev/null", "sh", sig, pid])
        .stdin(Stdio::null())
        .status();
}

/// A ping from the client to the IPv6 VIP every 10 ms (`ping -D`: every
/// reply carries its time).
struct Ping6 {
    helper: Helper,
}

/// The lab of `tests/netns/lab.rs` with IPv6 on the LAN. Derefs to the
/// [`Lab`], which owns the namespaces and processes (its Drop cleans up).
struct Lab6 {
    lab: Lab,
    test: &'static str,
}

impl Deref for Lab6 {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl DerefMut for Lab6 {
    fn deref_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }
}

impl Lab6 {
    /// The lab for `test` on 10.`net`.0.0/24 and fd00:`net`::/64, with every
    /// host's link-local address past DAD; or None (printing why) when the
    /// lab cannot be built here.
    fn new(test: &'static str, net: u8) -> Option<Lab6> {
        if !Path::new("/proc/sys/net/ipv6").exists() {
            lab::testkit::skip("the kernel has no IPv6");
            return None;
        }
        let lab = Lab::new(test, net)?;
        let l = Lab6 { lab, test };
        for (host, id) in [("r1", 1), ("r2", 2), ("c", 0x10)] {
            let ns = l.ns(host);
            // lab.rs leaves IPv6 alone, but a host whose defaults disable it
            // would give the namespaces' eth0 no IPv6 at all.
            let status = Command::new("ip")
                .args(["netns", "exec", &ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/eth0/disable_ipv6"])
                .stdin(Stdio::null())
                .status()
                .expect("run ip netns exec");
            assert!(status.success(), "enable IPv6 on eth0 in {ns}");
            let addr = format!("{}/64", l.addr6(id));
            l.ip(&["-n", &ns, "-6", "addr", "add", &addr, "dev", "eth0", "nodad"]);
        }
        // The link-local addresses (the advert sources) went through DAD
        // when lab.rs brought eth0 up; the daemons start once it is over.
        let ready = |l: &Lab6| {
            ["r1", "r2", "c"].iter().all(|h| {
                let out = l.ip(&["-n", &l.ns(h), "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
                out.contains("inet6 fe80:") && !out.contains("tentative") && !out.contains("dadfailed")
            })
        };
        l.eventually6("every link-local address past DAD", lab::TIMEOUT, ready);
        Some(l)
    }

    /// The names lab.rs gives its namespaces: `vipd-<pid>-<test>-<host>`.
    fn ns(&self, host: &str) -> String {
        format!("vipd-{}-{}-{host}", std::process::id(), self.test)
    }

    fn rns(&self, r: Router) -> String {
        self.ns(router_name(r))
    }

    /// fd00:N::`id`.
    fn addr6(&self, id: u16) -> String {
        format!("fd00:{}::{id:x}", self.net)
    }

    fn vip6(&self) -> String {
        self.addr6(0x100)
    }

    fn vip_of(&self, i: &Inst) -> String {
        if i.v6 { self.vip6() } else { self.vip() }
    }

    /// `ip -o addr show dev eth0` on `r`: the line of `addr`, if `r` has it.
    fn addr_line(&self, r: Router, addr: &str) -> Option<String> {
        let out = self.ip(&["-n", &self.rns(r), "-o", "addr", "show", "dev", "eth0"]);
        let needle = format!(" {addr}/");
        out.lines().find(|l| l.contains(&needle)).map(str::to_owned)
    }

    /// `all`: does `r` hold the VIP of every instance in `insts`? Else: does
    /// it hold none of them?
    fn holds(&self, r: Router, insts: &[Inst], all: bool) -> bool {
        insts.iter().all(|i| self.addr_line(r, &self.vip_of(i)).is_some() == all)
    }

    /// eth0's MAC address on `host`.
    fn mac(&self, host: &str) -> [u8; 6] {
        let out = self.ip(&["-n", &self.ns(host), "-o", "link", "show", "dev", "eth0"]);
        let text = out.split("link/ether ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_default();
        parse_mac(text).unwrap_or_else(|| panic!("no MAC in {out}"))
    }

    /// eth0's link-local address on `r`.
    fn link_local(&self, r: Router) -> Ipv6Addr {
        let out = self.ip(&["-n", &self.rns(r), "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
        let text = out.split("inet6 ").nth(1).and_then(|s| s.split('/').next()).unwrap_or_default();
        text.parse().unwrap_or_else(|_| panic!("no link-local address in {out}"))
    }

    /// The client's neighbour entry for the IPv6 VIP: its MAC, if it has
    /// one.
    fn client_neighbor(&self) -> Option<[u8; 6]> {
        let out = self.ip(&["-n", &self.ns("c"), "-6", "neigh", "show", &self.vip6(), "dev", "eth0"]);
        out.split("lladdr ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(parse_mac)
    }

    /// One `ping -6 -c1 -W1` from the client to the IPv6 VIP; did it get a
    /// reply?
    fn ping6_once(&self) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.ns("c"), "ping", "-6", "-n", "-c1", "-W1", &self.vip6()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Both routers' addresses (both families) and lab.rs's status (the
    /// end of every daemon's log), for failures.
    fn status6(&self) -> String {
        let mut s = String::new();
        for r in [R1, R2] {
            let out = Command::new("ip").args(["-n", &self.rns(r), "-o", "addr", "show", "dev", "eth0"]).output();
            let addrs: Vec<String> = out
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    // The address, and the DAD flags that matter here.
                    let w: Vec<&str> = l.split_whitespace().collect();
                    let flags = w.iter().skip(4).filter(|f| ["tentative", "nodad", "dadfailed"].contains(f));
                    let flags: String = flags.map(|f| format!(",{f}")).collect();
                    Some(format!("{}{flags}", w.get(3)?))
                })
                .collect();
            let _ = writeln!(s, "  {} eth0: {}", router_name(r), addrs.join(" "));
        }
        s + &self.status()
    }

    /// Polls `cond` until it holds; panics after `timeout`.
    fn eventually6(&self, what: &str, timeout: Duration, cond: impl Fn(&Lab6) -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond(self) {
            assert!(Instant::now() < deadline, "{}: not {what} within {timeout:?}\n{}", self.test, self.status6());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Checks `cond` every 20 ms for `period`; panics the first time it
    /// does not hold.
    fn stays6(&self, what: &str, period: Duration, cond: impl Fn(&Lab6) -> bool) {
        let deadline = Instant::now() + period;
        while Instant::now() < deadline {
            assert!(cond(self), "{}: no longer {what}\n{}", self.test, self.status6());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// keepalived.conf for `r` with `insts` (R1: priority 150, `state
    /// MASTER`; R2: 100, `state BACKUP`). An instance alone says `version 3`
    /// itself; several get `vrrp_version 3` in global_defs.
    fn config(&self, r: Router, insts: &[Inst]) -> String {
        let v = if r == R1 { HIGH } else { LOW };
        let mut s = format!("# {} {}: generated by tests/netns_v6.rs\n", self.test, router_name(r));
        if insts.len() > 1 {
            s.push_str("global_defs {\n    vrrp_version 3\n}\n");
        }
        for i in insts {
            let _ = writeln!(s, "\nvrrp_instance {} {{", i.name);
            let _ = writeln!(s, "    state {}", if v.master { "MASTER" } else { "BACKUP" });
            let _ = writeln!(s, "    interface eth0\n    virtual_router_id {}\n    priority {}", i.vrid, v.priority);
            if insts.len() == 1 {
                let _ = writeln!(s, "    version 3");
            }
            let _ = writeln!(s, "    advert_int {}", v.advert.as_secs_f64());
            if i.unicast {
                let (me, peer) = if r == R1 { (1, 2) } else { (2, 1) };
                let _ = writeln!(s, "    unicast_src_ip {}", self.addr6(me));
                let _ = writeln!(s, "    unicast_peer {{\n        {}\n    }}", self.addr6(peer));
            }
            let prefix = if i.v6 { 64 } else { 24 };
            let _ = writeln!(s, "    virtual_ipaddress {{\n        {}/{prefix}\n    }}\n}}", self.vip_of(i));
        }
        s
    }

    /// Starts `kind` on `r` with `insts` and waits until every instance is
    /// up (BACKUP, listening).
    fn start(&mut self, r: Router, kind: Kind, insts: &[Inst]) -> Daemon {
        let conf = self.config(r, insts);
        let d = self.start_conf(r, kind, &conf, &[]);
        self.wait_state(d, insts, "BACKUP");
        d
    }

    /// Waits until every instance of `insts` on `d` last logged `Entering
    /// <state> STATE`.
    fn wait_state(&self, d: Daemon, insts: &[Inst], state: &str) {
        let what = format!("{:?} on {:?}: {insts:?} in {state}", d.kind, d.router);
        self.eventually6(&what, lab::TIMEOUT, |l| {
            insts.iter().all(|i| l.instance_state(d, i.name).as_deref() == Some(state))
        });
    }

    /// Exactly `r` holds the VIPs of `insts` (the IPv6 ones `nodad`, none
    /// tentative), within [`lab::TIMEOUT`], and it stays so for
    /// [`SETTLE`].
    fn converges(&self, r: Router, insts: &[Inst]) {
        let what = format!("only {r:?} holding the VIPs of {insts:?}");
        let cond = |l: &Lab6| l.holds(r, insts, true) && l.holds(r.other(), insts, false);
        self.eventually6(&what, lab::TIMEOUT, cond);
        self.stays6(&what, SETTLE, cond);
        if insts.iter().any(|i| i.v6) {
            let line = self.addr_line(r, &self.vip6()).unwrap_or_default();
            assert!(
                line.contains(" nodad") && !line.contains("tentative"),
                "{}: the IPv6 VIP is not added nodad (keepalived-reference §2.10): {line}\n{}",
                self.test,
                self.status6()
            );
        }
    }

    /// SIGTERM; vipd must exit 0 and log `(<inst>) Stopped` for each.
    fn stop(&mut self, d: Daemon, insts: &[Inst]) {
        let code = self.term(d);
        if d.kind == VIPD {
            assert_eq!(code, Some(0), "vipd's exit status after SIGTERM\n{}", self.status6());
            let log = self.log(d);
            for i in insts {
                let stopped = format!("({}) Stopped", i.name);
                assert!(log.contains(&stopped), "vipd did not log `{stopped}`\n{}", self.status6());
            }
        }
    }

    /// Starts the client pinging the IPv6 VIP every 10 ms and waits for the
    /// first 20 replies.
    fn start_ping6(&mut self) -> Ping6 {
        let (c, vip) = (self.ns("c"), self.vip6());
        let name = format!("ping6-{}.txt", unix_secs(SystemTime::now()));
        let argv = ["ip", "netns", "exec", &c, "ping", "-6", "-D", "-n", "-i", "0.01", &vip];
        let helper = self.start_helper(&name, &argv);
        let p = Ping6 { helper };
        let deadline = Instant::now() + lab::TIMEOUT;
        while lab::replies(&p.helper.out).len() < 20 {
            assert!(Instant::now() < deadline, "the client cannot ping {vip}\n{}", self.status6());
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// Waits until the client has had 20 replies after now (the VIP is
    /// back), stops the ping and returns the longest time without a reply
    /// that ends after `since` (the failover being measured).
    fn stop_ping6(&mut self, p: Ping6, since: SystemTime) -> Duration {
        let now = unix_secs(SystemTime::now());
        let deadline = Instant::now() + lab::TIMEOUT;
        while lab::replies(&p.helper.out).iter().filter(|&&t| t > now).count() < 20 {
            assert!(Instant::now() < deadline, "the client lost {} for good\n{}", self.vip6(), self.status6());
            std::thread::sleep(Duration::from_millis(20));
        }
        // `ip netns exec` execs ping, so it is the process in the client's
        // namespace whose command line names the IPv6 VIP (a ping to the
        // IPv4 VIP may run there too).
        let pids = self.ip(&["netns", "pids", &self.ns("c")]);
        for pid in pids.split_whitespace() {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            if args.first().is_some_and(|a| a.ends_with(b"ping")) && args.contains(&self.vip6().as_bytes()) {
                signal("INT", pid);
            }
        }
        assert!(self.helper_exited(&p.helper, Duration::from_secs(5)), "ping -6 ignored SIGINT\n{}", self.status6());
        let since = unix_secs(since);
        let t = lab::replies(&p.helper.out);
        let gap = t.windows(2).filter(|w| w[1] >= since).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        Duration::from_secs_f64(gap)
    }
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = s.split(':').map(|b| u8::from_str_radix(b, 16)).collect::<Result<_, _>>().ok()?;
    bytes.try_into().ok()
}

fn show_mac(m: Option<[u8; 6]>) -> String {
    m.map_or("none".to_owned(), |m| m.map(|b| format!("{b:02x}")).join(":"))
}

/// Stops `master` gracefully while the client pings the VIPs of `insts`;
/// `backup` must take over every instance within the bound (a keepalived
/// backup witnessing the priority-0 advert), and only it holds the VIPs.
fn graceful_handover(l: &mut Lab6, what: &str, master: Daemon, backup: Daemon, insts: &[Inst]) {
    let takeover = if backup.router == R1 { HIGH } else { LOW }.takeover_prio0();
    let ping4 = insts.iter().any(|i| !i.v6).then(|| l.start_ping());
    let ping6 = l.start_ping6();
    let t0 = SystemTime::now();
    l.stop(master, insts);
    l.wait_state(backup, insts, "MASTER");
    if backup.kind == KA {
        let log = l.log(backup);
        for i in insts {
            let prio0 = format!("({}) Backup received priority 0 advertisement", i.name);
            assert!(log.contains(&prio0), "keepalived: no `{prio0}`\n{}", l.status6());
        }
    }
    let outage = l.stop_ping6(ping6, t0);
    l.check_outage(&format!("{what} (IPv6 VIP)"), outage, takeover);
    if let Some(p) = ping4 {
        let outage = l.stop_ping(p, t0);
        l.check_outage(&format!("{what} (IPv4 VIP)"), outage, takeover);
    }
    l.converges(backup.router, insts);
}

/// Election, graceful handover, the old master returning, and nothing left
/// behind after SIGTERM, for the instances `insts` and one pair of daemons:
///
/// 1. R1 (150, `state MASTER`) becomes master of every instance; only R1
///    holds the VIPs (the IPv6 one `nodad`); R2 is BACKUP.
/// 2. SIGTERM R1 (priority 0): R2 takes over every instance; the client's
///    outage on each VIP is bounded by R2's skew; R1 exits holding no VIP.
/// 3. R1 comes back and preempts (outages bounded); R2 is BACKUP again.
/// 4. SIGTERM R1 again: R2 takes over (bounded); SIGTERM R2: no router
///    holds a VIP.
fn failover_cycle(test: &'static str, net: u8, pair: (Kind, Kind), insts: &[Inst]) {
    let Some(mut l) = Lab6::new(test, net) else { return };
    let a = l.start(R1, pair.0, insts);
    let b = l.start(R2, pair.1, insts);
    l.wait_state(a, insts, "MASTER");
    l.converges(R1, insts);
    l.wait_state(b, insts, "BACKUP");

    graceful_handover(&mut l, "SIGTERM master R1, R2 takes over", a, b, insts);

    let ping4 = insts.iter().any(|i| !i.v6).then(|| l.start_ping());
    let ping6 = l.start_ping6();
    let t0 = SystemTime::now();
    let a = l.start(R1, pair.0, insts);
    l.wait_state(a, insts, "MASTER");
    l.wait_state(b, insts, "BACKUP");
    let outage = l.stop_ping6(ping6, t0);
    l.check_outage("R1 returns and preempts (IPv6 VIP)", outage, HIGH.takeover_prio0());
    if let Some(p) = ping4 {
        let outage = l.stop_ping(p, t0);
        l.check_outage("R1 returns and preempts (IPv4 VIP)", outage, HIGH.takeover_prio0());
    }
    l.converges(R1, insts);

    graceful_handover(&mut l, "SIGTERM master R1 again", a, b, insts);
    l.stop(b, insts);
    assert!(
        l.holds(R1, insts, false) && l.holds(R2, insts, false),
        "a VIP was left behind after SIGTERM\n{}",
        l.status6()
    );
}

#[test]
fn v6_vipd_vipd() {
    failover_cycle("v6-vv", 111, (VIPD, VIPD), &[VI_6]);
}

#[test]
fn v6_vipd_master_keepalived_backup() {
    failover_cycle("v6-vk", 112, (VIPD, KA), &[VI_6]);
}

#[test]
fn v6_keepalived_master_vipd_backup() {
    failover_cycle("v6-kv", 113, (KA, VIPD), &[VI_6]);
}

/// The harness itself, with keepalived on both routers: if this fails, the
/// lab (or an expectation here) is wrong, not vipd.
#[test]
fn v6_harness_keepalived_keepalived() {
    failover_cycle("v6-kk", 114, (KA, KA), &[VI_6]);
}

/// Dual stack: each router runs VI_4 (IPv4 VIP) and VI_6 (IPv6 VIP), both
/// VRID 51, on eth0. Both elect R1, both move to R2 on SIGTERM and back
/// when R1 returns; the client keeps reaching both VIPs.
#[test]
fn v6_unicast_vipd_vipd() {
    failover_cycle("v6u-vv", 163, (VIPD, VIPD), &[VI_6U]);
}

#[test]
fn v6_unicast_vipd_master_keepalived_backup() {
    failover_cycle("v6u-vk", 164, (VIPD, KA), &[VI_6U]);
}

#[test]
fn v6_unicast_keepalived_master_vipd_backup() {
    failover_cycle("v6u-kv", 165, (KA, VIPD), &[VI_6U]);
}

#[test]
fn dual_stack_vipd_vipd() {
    failover_cycle("ds-vv", 121, (VIPD, VIPD), &DUAL);
}

#[test]
fn dual_stack_vipd_master_keepalived_backup() {
    failover_cycle("ds-vk", 122, (VIPD, KA), &DUAL);
}

#[test]
fn dual_stack_keepalived_master_vipd_backup() {
    failover_cycle("ds-kv", 123, (KA, VIPD), &DUAL);
}

/// The master's cable is pulled (its bridge port down): it goes FAULT and
/// drops the IPv6 VIP, R2 takes over (outage bounded by 3 adverts + skew);
/// the cable goes back in: R1 preempts, only R1 holds the VIP.
#[test]
fn v6_cable_pull_vipd_vipd() {
    let Some(mut l) = Lab6::new("v6-cable", 131) else { return };
    let insts = &[VI_6];
    let a = l.start(R1, VIPD, insts);
    let b = l.start(R2, VIPD, insts);
    l.wait_state(a, insts, "MASTER");
    l.converges(R1, insts);

    let ping = l.start_ping6();
    let t0 = SystemTime::now();
    l.cable(R1, false);
    l.wait_state(a, insts, "FAULT");
    l.wait_state(b, insts, "MASTER");
    let outage = l.stop_ping6(ping, t0);
    l.check_outage("cable pulled from master R1", outage, LOW.takeover_silent());
    l.converges(R2, insts);

    let ping = l.start_ping6();
    let t0 = SystemTime::now();
    l.cable(R1, true);
    l.wait_state(a, insts, "MASTER");
    l.wait_state(b, insts, "BACKUP");
    let outage = l.stop_ping6(ping, t0);
    l.check_outage("cable back in, R1 preempts", outage, HIGH.takeover_prio0());
    l.converges(R1, insts);
}

/// The unsolicited Neighbor Advertisement moves the client's neighbour
/// entry for the IPv6 VIP: the client pings the VIP once (its entry: R1's
/// MAC) and then stays silent; R1 is stopped and, with no traffic from the
/// client, its entry must show R2's MAC within a second of R2 becoming
/// master, and the VIP answers; R1 returns and preempts: the entry goes
/// back to R1's MAC the same way.
#[test]
fn v6_unsolicited_na_moves_the_client_neighbor_entry() {
    let Some(mut l) = Lab6::new("v6-na", 141) else { return };
    let insts = &[VI_6];
    let (mac1, mac2) = (l.mac("r1"), l.mac("r2"));
    let a = l.start(R1, VIPD, insts);
    let b = l.start(R2, VIPD, insts);
    l.wait_state(a, insts, "MASTER");
    l.converges(R1, insts);
    assert!(l.ping6_once(), "the client cannot ping {} on R1\n{}", l.vip6(), l.status6());
    let entry = l.client_neighbor();
    assert_eq!(entry, Some(mac1), "premise: the client's entry for the VIP is R1's MAC\n{}", l.status6());

    l.stop(a, insts);
    l.wait_state(b, insts, "MASTER");
    let na = Duration::from_secs(1);
    let what = format!("the client's entry for the VIP following to R2 ({})", show_mac(Some(mac2)));
    l.eventually6(&what, na, |l| l.client_neighbor() == Some(mac2));
    assert!(l.ping6_once(), "the client cannot ping {} on R2\n{}", l.vip6(), l.status6());

    let a = l.start(R1, VIPD, insts);
    l.wait_state(a, insts, "MASTER");
    let what = format!("the client's entry for the VIP following back to R1 ({})", show_mac(Some(mac1)));
    l.eventually6(&what, na, |l| l.client_neighbor() == Some(mac1));
    l.wait_state(b, insts, "BACKUP");
    l.converges(R1, insts);
    assert!(l.ping6_once(), "the client cannot ping {} back on R1\n{}", l.vip6(), l.status6());
}

/// An IPv6 packet R1 sent, seen on its switch port.
struct Frame {
    /// The kernel's receive time stamp.
    at: Duration,
    /// The Ethernet source.
    mac: [u8; 6],
    /// From the IPv6 header on.
    pkt: Vec<u8>,
}

/// Captures the IPv6 packets `mac` sends through switch port `port` of
/// namespace `sw` until `stop` is set, on a thread of its own (setns moves
/// only the calling thread); returns once the socket is bound, so nothing
/// sent after the call is missed.
fn capture6(sw: String, port: &str, mac: [u8; 6], stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Frame>> {
    let port = port.to_owned();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let tap = lab::PortTap::open(Path::new(&format!("/run/netns/{sw}")), &port, None);
        let _ = tx.send(());
        let mut buf = [0u8; 2048];
        let mut out = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Some(f) = tap.next(&mut buf) else { continue };
            // Received from the router (not sent out to it), from its MAC.
            if f.protocol != libc::ETH_P_IPV6 as u16 || f.outgoing || f.mac != mac {
                continue;
            }
            out.push(Frame { at: f.at, mac, pkt: buf[..f.len].to_vec() });
        }
        out
    });
    rx.recv_timeout(lab::TIMEOUT).expect("the capture socket is bound");
    t
}

/// The Internet checksum over the IPv6 pseudo-header and `payload`
/// (checksum field included): 0 when the checksum is right.
fn checksum6(src: &[u8], dst: &[u8], next: u8, payload: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(src);
    add(dst);
    add(&(payload.len() as u32).to_be_bytes());
    add(&[0, 0, 0, next]);
    add(payload);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// What vipd sends over IPv6 (keepalived-reference §2.1, §2.9), captured on
/// R1's switch port while R1 (150, alone) starts, becomes master and is
/// stopped:
/// - every advert: traffic class 0xc0, hop limit 255, next header 112, from
///   R1's link-local address to ff02::12; VRRPv3 advert, VRID 51, one
///   address (the VIP), max advert interval 10 cs, checksum right; priority
///   150 every 100 ms while master, and a last one with priority 0 on
///   SIGTERM;
/// - as it becomes master, a burst of 5 unsolicited NAs: from the VIP to
///   ff02::1, hop limit 255, target the VIP, Override set, Solicited and
///   Router clear, with R1's MAC as target link-layer address.
#[test]
fn v6_advert_and_na_on_the_wire() {
    let Some(mut l) = Lab6::new("v6-wire", 151) else { return };
    let insts = &[VI_6];
    let (mac, ll) = (l.mac("r1"), l.link_local(R1));
    let vip: Ipv6Addr = l.vip6().parse().expect("VIP");
    let stop = Arc::new(AtomicBool::new(false));
    let cap = capture6(l.ns("sw"), "r1", mac, Arc::clone(&stop));
    let a = l.start(R1, VIPD, insts);
    l.wait_state(a, insts, "MASTER");
    std::thread::sleep(Duration::from_secs(1));
    l.stop(a, insts);
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let frames = cap.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    let ctx = || format!("{}\n{}", l.status6(), l.log(a));

    let all_nodes: Ipv6Addr = "ff02::1".parse().expect("ff02::1");
    let vrrp_group: Ipv6Addr = "ff02::12".parse().expect("ff02::12");
    let mut adverts: Vec<(Duration, u8)> = Vec::new();
    let mut nas = 0;
    for f in &frames {
        let p = &f.pkt;
        assert!(p.len() >= 40 && p[0] >> 4 == 6, "not an IPv6 packet from R1: {p:02x?}");
        let (src, dst) = (&p[8..24], &p[24..40]);
        let src6 = Ipv6Addr::from(<[u8; 16]>::try_from(src).expect("16 bytes"));
        let dst6 = Ipv6Addr::from(<[u8; 16]>::try_from(dst).expect("16 bytes"));
        let payload = &p[40..];
        let tclass = (u16::from_be_bytes([p[0], p[1]]) >> 4) as u8;
        match p[6] {
            112 => {
                assert_eq!((src6, dst6), (ll, vrrp_group), "advert addresses\n{}", ctx());
                assert_eq!((tclass, p[7]), (0xc0, 255), "advert traffic class and hop limit\n{}", ctx());
                assert_eq!(payload.len(), 8 + 16, "advert length (one IPv6 address): {payload:02x?}\n{}", ctx());
                assert_eq!((payload[0], payload[1], payload[3]), (0x31, 51, 1), "v3 advert, VRID, naddr\n{}", ctx());
                let max_adver = u16::from_be_bytes([payload[4], payload[5]]);
                assert_eq!(max_adver, 10, "max advert interval (cs)\n{}", ctx());
                assert_eq!(&payload[8..24], &vip.octets(), "the advert's address\n{}", ctx());
                assert_eq!(checksum6(src, dst, 112, payload), 0, "advert checksum: {payload:02x?}\n{}", ctx());
                adverts.push((f.at, payload[2]));
            }
            58 if payload.first() == Some(&136) => {
                nas += 1;
                assert_eq!(dst6, all_nodes, "NA destination\n{}", ctx());
                assert_eq!(src6, vip, "NA source\n{}", ctx());
                assert_eq!(p[7], 255, "NA hop limit\n{}", ctx());
                assert_eq!(payload.len(), 32, "NA length (one option): {payload:02x?}\n{}", ctx());
                assert_eq!(payload[4] & 0xe0, 0x20, "NA flags: Override only: {payload:02x?}\n{}", ctx());
                assert_eq!(&payload[8..24], &vip.octets(), "NA target\n{}", ctx());
                assert_eq!(&payload[24..26], &[2, 1], "target link-layer address option\n{}", ctx());
                assert_eq!(&payload[26..32], &f.mac, "NA target link-layer address\n{}", ctx());
                assert_eq!(checksum6(src, dst, 58, payload), 0, "NA checksum: {payload:02x?}\n{}", ctx());
            }
            _ => {}
        }
    }
    let prios: Vec<u8> = adverts.iter().map(|a| a.1).collect();
    assert!(prios.len() >= 8, "R1 sent {} adverts in over a second as master\n{}", prios.len(), ctx());
    assert_eq!(prios.last(), Some(&0), "R1's last advert (SIGTERM) has priority 0: {prios:?}\n{}", ctx());
    let live: Vec<Duration> = adverts.iter().filter(|a| a.1 == 150).map(|a| a.0).collect();
    assert_eq!(live.len(), prios.len() - 1, "priorities sent: {prios:?}\n{}", ctx());
    let gaps: Vec<Duration> = live.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
    let max = gaps.iter().max().copied().unwrap_or_default();
    println!("v6-wire: {} adverts, mean gap {mean:?}, max {max:?}, {nas} NAs", live.len());
    assert!(
        mean >= Duration::from_millis(90) && mean <= Duration::from_millis(120) && max <= Duration::from_millis(200),
        "advert gaps: mean {mean:?}, max {max:?} (advert_int 0.1)\n{}",
        ctx()
    );
    assert_eq!(nas, 5, "unsolicited NAs as R1 became master (garp_master_repeat 5)\n{}", ctx());
}

#[path = "netns/inject.rs"]
#[allow(dead_code)]
mod inject;

/// Issue 18.2: a burst of crafted IPv6 adverts from the client (priority 0,
/// or hop limit 1) may make the backup take over for a moment, but the
/// backup must yield to R1's adverts at once: no lasting second master.
fn v6_crafted_burst(test: &'static str, net: u8, priority: u8, hop_limit: u8, spoof_r1: bool) {
    let Some(mut l) = Lab6::new(test, net) else { return };
    let a = l.start(R1, VIPD, &[VI_6]);
    l.wait_state(a, &[VI_6], "MASTER");
    let b = l.start(R2, VIPD, &[VI_6]);
    l.converges(R1, &[VI_6]);
    let src = if spoof_r1 { l.link_local(R1) } else { link_local_of(&l, "c") };
    let group: IpAddr = "ff02::12".parse().expect("group");
    let spec = inject::Spec {
        version: 3,
        vrid: VI_6.vrid,
        priority,
        interval: 10,
        addrs: vec![l.vip6().parse().expect("VIP")],
        src: IpAddr::V6(src),
        dst: group,
        ttl: hop_limit,
    };
    let pkt = inject::advert(&spec, inject::multicast_mac(group));
    let sent = inject::Sender::start(l.ns_path("c"), "eth0", vec![pkt], 2000, Duration::from_secs(1), 0).wait();
    eprintln!("{test}: {sent} crafted adverts (priority {priority}, hop limit {hop_limit}) sent");
    // Whatever R2 did during the burst, R1 holds the VIP again within a
    // few intervals and keeps it.
    let t0 = Instant::now();
    l.eventually6("R1 alone holding the VIP after the burst", Duration::from_secs(2), |l| {
        l.holds(R1, &[VI_6], true) && l.holds(R2, &[VI_6], false)
    });
    let took = t0.elapsed();
    l.stays6("R1 alone holding the VIP", Duration::from_secs(2), |l| {
        l.holds(R1, &[VI_6], true) && l.holds(R2, &[VI_6], false)
    });
    eprintln!("{test}: one master again {took:?} after the burst");
    assert_eq!(l.instance_state(b, VI_6.name).as_deref(), Some("BACKUP"), "{test}\n{}", l.status6());
}

fn link_local_of(l: &Lab6, host: &str) -> Ipv6Addr {
    let out = l.ip(&["-n", &l.ns(host), "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
    let text = out.split("inet6 ").nth(1).and_then(|s| s.split('/').next()).unwrap_or_default();
    text.parse().unwrap_or_else(|_| panic!("no link-local address in {out}"))
}

#[test]
fn v6_priority_zero_burst_leaves_one_master() {
    v6_crafted_burst("v6burst0", 141, 0, 255, false);
}

#[test]
fn v6_spoofed_priority_zero_burst_leaves_one_master() {
    v6_crafted_burst("v6burst0s", 142, 0, 255, true);
}

#[test]
fn v6_hop_limit_one_burst_leaves_one_master() {
    v6_crafted_burst("v6bursth", 143, 0, 1, false);
}

/// Issue 18.3 over IPv6: R1's own link goes down for 3 s; R2 holds the
/// VIP within its master-down time, and R1 takes it back afterwards.
fn v6_master_link_down(test: &'static str, net: u8, inst: Inst) {
    let Some(mut l) = Lab6::new(test, net) else { return };
    let a = l.start(R1, VIPD, &[inst]);
    l.wait_state(a, &[inst], "MASTER");
    let _b = l.start(R2, VIPD, &[inst]);
    l.converges(R1, &[inst]);
    let r1 = l.rns(R1);
    l.ip(&["-n", &r1, "link", "set", "eth0", "down"]);
    let t0 = Instant::now();
    let bound = LOW.master_down() + Duration::from_secs(2);
    l.eventually6("R2 holding the VIP with R1's link down", bound, |l| l.holds(R2, &[inst], true));
    eprintln!("{test}: R2 holds the VIP {:?} after R1's link went down", t0.elapsed());
    std::thread::sleep(Duration::from_secs(3).saturating_sub(t0.elapsed()));
    l.ip(&["-n", &r1, "link", "set", "eth0", "up"]);
    // Linux drops a link's IPv6 addresses when it goes down (unless
    // keep_addr_on_down); the host's network set-up adds them back, as
    // it would after a real outage. Until then a unicast R1 has no
    // source address and stays in FAULT.
    let addr = format!("{}/64", l.addr6(1));
    l.ip(&["-n", &r1, "-6", "addr", "replace", &addr, "dev", "eth0", "nodad"]);
    l.converges(R1, &[inst]);
}

#[test]
fn v6_master_link_down_multicast() {
    v6_master_link_down("v6linkdown", 144, VI_6);
}

#[test]
fn v6_master_link_down_unicast() {
    v6_master_link_down("v6linkdownu", 145, VI_6U);
}
