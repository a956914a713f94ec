//! `use_vmac` on a real network (the lab of `tests/netns/lab.rs`): both
//! routers put the VIP on a macvlan `vrrp.51` with the virtual router MAC
//! 00:00:5e:00:01:33, so the client's neighbour entry for the VIP never
//! changes across failovers. vipd against vipd and against keepalived
//! 2.2.7 (`use_vmac` on both), and with `vmac_xmit_base`. Needs root;
//! otherwise each test prints why it skips and passes.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::time::{Duration, SystemTime};

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Kind, Lab, Router, Vrrp};

const MASTER: &str = "Entering MASTER STATE";
const BACKUP: &str = "Entering BACKUP STATE";
const INIT: &str = "Entering BACKUP STATE (init)";
const FAULT: &str = "Entering FAULT STATE";

/// The lab's VRID is 51 (0x33).
const VMAC_NAME: &str = "vrrp.51";
const VMAC: &str = "00:00:5e:00:01:33";

fn ns(lab: &Lab, host: &str) -> String {
    let p = lab.ns_path(host);
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn host(r: Router) -> &'static str {
    if r == R1 { "r1" } else { "r2" }
}

/// The lab's keepalived.conf with `use_vmac` (and `vmac_xmit_base`).
fn config(lab: &Lab, r: Router, v: &Vrrp, xmit_base: bool) -> String {
    let extra = if xmit_base { "    use_vmac\n    vmac_xmit_base\n" } else { "    use_vmac\n" };
    lab.config(r, v).replace("    virtual_ipaddress", &format!("{extra}    virtual_ipaddress"))
}

fn start(lab: &mut Lab, r: Router, kind: Kind, v: &Vrrp, xmit_base: bool) -> Daemon {
    let conf = config(lab, r, v, xmit_base);
    if lab::actual(kind) == KA {
        // keepalived 2.2.7 leaves arp_announce alone: an ARP request its
        // eth0 sends for the client carries the VIP as sender with eth0's
        // MAC, and the client takes that as the VIP's MAC. vipd sets
        // arp_announce=2 on the base interface; the lab does it for
        // keepalived, so the test checks the VMAC, not that difference.
        let path = "/proc/sys/net/ipv4/conf/eth0/arp_announce";
        lab.ip(&["netns", "exec", &ns(lab, host(r)), "sh", "-c", &format!("echo 2 > {path}")]);
    }
    let d = lab.start_conf(r, kind, &conf, &[]);
    lab.wait_for(d, INIT);
    d
}

/// `ip -o link show vrrp.51` on `r`, empty when there is none.
fn vmac_link(lab: &Lab, r: Router) -> String {
    let out = std::process::Command::new("ip")
        .args(["-n", &ns(lab, host(r)), "-o", "link", "show", "dev", VMAC_NAME])
        .output()
        .expect("run ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn holds_vip_on_vmac(lab: &Lab, r: Router) -> bool {
    let out = std::process::Command::new("ip")
        .args(["-n", &ns(lab, host(r)), "-o", "-4", "addr", "show"])
        .output()
        .expect("run ip");
    let needle = format!(" {}/", lab.vip());
    String::from_utf8_lossy(&out.stdout).lines().any(|l| l.contains(&needle) && l.contains(VMAC_NAME))
}

fn holds_vip_anywhere(lab: &Lab, r: Router) -> bool {
    let out = lab.ip(&["-n", &ns(lab, host(r)), "-o", "-4", "addr", "show"]);
    out.contains(&format!(" {}/", lab.vip()))
}

/// Exactly `r` holds the VIP, on its macvlan, and it stays so.
fn converges_on(lab: &Lab, r: Router) {
    let what = format!("only {} holding {} on {VMAC_NAME}", host(r), lab.vip());
    let cond = |lab: &Lab| holds_vip_on_vmac(lab, r) && !holds_vip_anywhere(lab, r.other());
    lab.eventually(&what, lab::TIMEOUT, cond);
    lab.stays(&what, Duration::from_millis(500), cond);
}

/// The client's neighbour entry for the VIP.
fn client_neigh(lab: &Lab) -> String {
    lab.ip(&["-n", &ns(lab, "c"), "neigh", "show", &lab.vip()])
}

fn assert_client_sees_vmac(lab: &Lab, when: &str) {
    let n = client_neigh(lab);
    assert!(n.contains(VMAC), "{when}: the client's neighbour entry is `{}`, not {VMAC}\n{}", n.trim(), lab.status());
}

/// Pings while `act` fails the master over; the outage must be within the
/// lab's bound for `takeover`, and the client must still see the VMAC.
fn failover(lab: &mut Lab, what: &str, takeover: Duration, act: impl FnOnce(&mut Lab)) {
    let ping = lab.start_ping();
    assert_client_sees_vmac(lab, &format!("before `{what}`"));
    let t0 = SystemTime::now();
    act(lab);
    let outage = lab.stop_ping(ping, t0);
    lab.check_outage(what, outage, takeover);
    assert_client_sees_vmac(lab, &format!("after `{what}`"));
}

/// 1. R1 (150) becomes master with the VIP on vrrp.51 (MAC 00:00:5e:00:01:33)
///    on both routers; the client's ARP entry shows the VMAC.
/// 2. Cable pulled from R1: R2 takes over; the entry still shows the VMAC.
/// 3. Cable back: R1 preempts (GARPs from the VMAC move the switch's FDB
///    back at once, also with `vmac_xmit_base`).
/// 4. SIGTERM R1: R2 takes over; vipd deleted its macvlan and restored
///    the base's arp_ignore.
/// 5. SIGTERM R2: no VIP left, no macvlan left by vipd.
fn cycle(test: &str, net: u8, pair: (Kind, Kind), xmit_base: bool) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let hi = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
    let lo = Vrrp { priority: 100, master: false, ..Vrrp::V3 };
    let a = start(&mut lab, R1, pair.0, &hi, xmit_base);
    let b = start(&mut lab, R2, pair.1, &lo, xmit_base);
    lab.wait_for(a, MASTER);
    converges_on(&lab, R1);
    for r in [R1, R2] {
        let l = vmac_link(&lab, r);
        assert!(l.contains(VMAC), "{} vrrp.51: `{l}`", host(r));
        assert!(l.contains("UP"), "{} vrrp.51 is not up: `{l}`", host(r));
    }
    if pair.0 == VIPD {
        let ignore = lab.ip(&["netns", "exec", &ns(&lab, "r1"), "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore"]);
        assert_eq!(ignore.trim(), "1", "R1 eth0 arp_ignore while vrrp.51 exists");
    }

    failover(&mut lab, "cable pulled from master R1", lo.takeover_silent(), |lab| {
        lab.cable(R1, false);
        lab.wait_for(a, FAULT);
        lab.wait_for(b, MASTER);
    });
    converges_on(&lab, R2);

    failover(&mut lab, "cable back in, R1 preempts", hi.takeover_prio0(), |lab| {
        lab.cable(R1, true);
        lab.wait_for(a, MASTER);
        lab.wait_for(b, BACKUP);
    });
    converges_on(&lab, R1);

    failover(&mut lab, "SIGTERM master R1", lo.takeover_prio0(), |lab| {
        let code = lab.term(a);
        if a.kind == VIPD {
            assert_eq!(code, Some(0), "vipd's exit status after SIGTERM\n{}", lab.status());
        }
        lab.wait_for(b, MASTER);
    });
    converges_on(&lab, R2);
    assert!(!holds_vip_anywhere(&lab, R1), "R1 kept the VIP after SIGTERM\n{}", lab.status());
    if a.kind == VIPD {
        assert_eq!(vmac_link(&lab, R1), "", "vipd left vrrp.51 behind on R1\n{}", lab.status());
        let ignore = lab.ip(&["netns", "exec", &ns(&lab, "r1"), "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore"]);
        assert_eq!(ignore.trim(), "0", "R1 eth0 arp_ignore not restored");
    }
    let code = lab.term(b);
    if b.kind == VIPD {
        assert_eq!(code, Some(0), "vipd's exit status after SIGTERM\n{}", lab.status());
        assert_eq!(vmac_link(&lab, R2), "", "vipd left vrrp.51 behind on R2\n{}", lab.status());
    }
    assert!(!holds_vip_anywhere(&lab, R1) && !holds_vip_anywhere(&lab, R2), "a VIP was left\n{}", lab.status());
}

#[test]
fn vmac_vipd_vipd() {
    cycle("vmac-vv", 223, (VIPD, VIPD), false);
}

#[test]
fn vmac_vipd_master_keepalived_backup() {
    cycle("vmac-vk", 224, (VIPD, KA), false);
}

#[test]
fn vmac_keepalived_master_vipd_backup() {
    cycle("vmac-kv", 225, (KA, VIPD), false);
}

#[test]
fn vmac_xmit_base_vipd_vipd() {
    cycle("vmac-xb", 226, (VIPD, VIPD), true);
}

/// The adverts of a `use_vmac` master leave with the virtual MAC as their
/// Ethernet source; with `vmac_xmit_base`, with eth0's.
#[test]
fn vmac_advert_source_mac() {
    for (xmit_base, test, net) in [(false, "vmac-src", 227u8), (true, "vmac-srcb", 228)] {
        let Some(mut lab) = Lab::new(test, net) else { return };
        let hi = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
        let a = start(&mut lab, R1, VIPD, &hi, xmit_base);
        lab.wait_for(a, MASTER);
        let eth0 = lab.ip(&["-n", &ns(&lab, "r1"), "-o", "link", "show", "dev", "eth0"]);
        let eth0_mac =
            eth0.split("link/ether ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("").to_owned();
        // The switch learns the source MAC of what R1 sends on its port.
        let sw = ns(&lab, "sw");
        let fdb = || {
            let out = std::process::Command::new("bridge").args(["-n", &sw, "fdb", "show", "br", "br0"]).output();
            out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
        };
        lab.eventually("the switch learning the VMAC on r1's port", lab::TIMEOUT, |_| {
            fdb().lines().any(|l| l.starts_with(VMAC) && l.contains("dev r1"))
        });
        // Flush what the GARPs taught it, then let only adverts teach it.
        lab.ip(&["-n", &ns(&lab, "sw"), "link", "set", "r1", "type", "bridge_slave", "fdb_flush"]);
        std::thread::sleep(Duration::from_millis(500));
        let table = fdb();
        let vmac_learnt = table.lines().any(|l| l.starts_with(VMAC) && l.contains("dev r1"));
        let eth0_learnt = table.lines().any(|l| l.starts_with(&eth0_mac) && l.contains("dev r1"));
        if xmit_base {
            assert!(!vmac_learnt && eth0_learnt, "vmac_xmit_base: adverts must leave from eth0 ({eth0_mac}):\n{table}");
        } else {
            assert!(vmac_learnt, "adverts must leave from the VMAC:\n{table}");
        }
        let _ = lab.term(a);
    }
}

/// Lifecycle corner cases on one router: a stale `vrrp.51` with the VMAC
/// is reused, one without it stops the start; a reload keeping the macvlan
/// is applied, one dropping `use_vmac` is refused and changes nothing;
/// `-V` leaves the macvlan with the VIP on it.
#[test]
fn vmac_reuse_reload_and_keep() {
    let Some(mut lab) = Lab::new("vmac-life", 229) else { return };
    let r1 = ns(&lab, "r1");
    let hi = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
    let conf = config(&lab, R1, &hi, false);

    // Another interface named vrrp.51: refused at start, left alone.
    lab.ip(&["-n", &r1, "link", "add", "link", "eth0", "name", VMAC_NAME, "type", "macvlan"]);
    let (code, out) = lab.run_vipd(R1, &conf, &[]);
    assert_ne!(code, Some(0), "vipd started over a foreign vrrp.51:\n{out}");
    assert!(out.contains("without the virtual MAC"), "{out}");
    assert!(!vmac_link(&lab, R1).is_empty(), "vipd deleted a vrrp.51 it did not make");
    // One with the VMAC (a crashed daemon's): reused, and removed at exit.
    lab.ip(&["-n", &r1, "link", "set", VMAC_NAME, "address", VMAC]);
    let a = start(&mut lab, R1, VIPD, &hi, false);
    lab.wait_for(a, MASTER);
    lab.eventually("the VIP on vrrp.51", lab::TIMEOUT, |lab| holds_vip_on_vmac(lab, R1));

    // Same macvlan, other priority: applied.
    let path = lab.dir().join("r1-vipd-2.conf");
    assert!(path.exists(), "no {}", path.display());
    std::fs::write(&path, config(&lab, R1, &Vrrp { priority: 140, ..hi }, false)).expect("write");
    lab.hup(a);
    lab.wait_for(a, "Reload finished");
    // Without use_vmac: refused, the VIP stays where it is.
    std::fs::write(&path, lab.config(R1, &hi)).expect("write");
    lab.hup(a);
    lab.wait_for(a, "`use_vmac` interfaces would change");
    assert!(holds_vip_on_vmac(&lab, R1), "the refused reload moved the VIP\n{}", lab.status());
    assert_eq!(lab.term(a), Some(0));
    assert_eq!(vmac_link(&lab, R1), "", "the reused vrrp.51 was left\n{}", lab.status());

    // -V: addresses and their macvlan stay.
    let d = lab.start_conf(R1, VIPD, &conf, &["-V"]);
    lab.wait_for(d, MASTER);
    lab.eventually("the VIP on vrrp.51", lab::TIMEOUT, |lab| holds_vip_on_vmac(lab, R1));
    assert_eq!(lab.term(d), Some(0));
    assert!(holds_vip_on_vmac(&lab, R1), "-V: the VIP or its macvlan went\n{}", lab.status());
}

/// IPv6: the VIP fd00:N::100/64 on vrrp.51 with 00:00:5e:00:02:33; the
/// client's neighbour entry shows that MAC before and after the master
/// stops (SIGTERM), vipd against vipd.
#[test]
fn vmac_ipv6_vipd_vipd() {
    let Some(mut lab) = Lab::new("vmac-v6", 230) else { return };
    let net = lab.net;
    let vip = format!("fd00:{net}::100");
    let mac6 = "00:00:5e:00:02:33";
    for (host, id) in [("r1", 1), ("r2", 2), ("c", 0x10)] {
        let n = ns(&lab, host);
        lab.ip(&["-n", &n, "addr", "add", &format!("fd00:{net}::{id:x}/64"), "dev", "eth0", "nodad"]);
    }
    // vipd sends from eth0's link-local address: wait until DAD is over.
    lab.eventually("link-local addresses past DAD", lab::TIMEOUT, |lab| {
        ["r1", "r2", "c"].iter().all(|h| {
            let out = lab.ip(&["-n", &ns(lab, h), "-6", "addr", "show", "dev", "eth0", "tentative"]);
            out.trim().is_empty()
        })
    });
    let conf = |r: Router, prio: u8, master: bool| {
        format!(
            "vrrp_instance VI_1 {{\n    state {}\n    interface eth0\n    virtual_router_id 51\n    priority {prio}\n    \
             advert_int 0.1\n    use_vmac\n    virtual_ipaddress {{\n        {vip}/64\n    }}\n}}\n",
            if master { "MASTER" } else { "BACKUP" }
        ) + &format!("# {}\n", host(r))
    };
    let a = lab.start_conf(R1, VIPD, &conf(R1, 150, true), &[]);
    lab.wait_for(a, INIT);
    let b = lab.start_conf(R2, VIPD, &conf(R2, 100, false), &[]);
    lab.wait_for(b, INIT);
    lab.wait_for(a, MASTER);
    let holds = |lab: &Lab, r: Router| {
        lab.ip(&["-n", &ns(lab, host(r)), "-o", "-6", "addr", "show", "dev", VMAC_NAME]).contains(&format!(" {vip}/"))
    };
    lab.eventually("R1 holding the IPv6 VIP on vrrp.51", lab::TIMEOUT, |lab| holds(lab, R1) && !holds(lab, R2));
    for r in [R1, R2] {
        let l = vmac_link(&lab, r);
        assert!(l.contains(mac6), "{} vrrp.51: `{l}`", host(r));
        // No link-local address (and so no DAD or MLD) on the macvlan.
        let a6 = lab.ip(&["-n", &ns(&lab, host(r)), "-6", "addr", "show", "dev", VMAC_NAME, "scope", "link"]);
        assert!(a6.trim().is_empty(), "{}: vrrp.51 has a link-local address: {a6}", host(r));
    }
    let c = ns(&lab, "c");
    let ping = |_: &Lab| {
        std::process::Command::new("ip")
            .args(["netns", "exec", &c, "ping", "-6", "-c", "3", "-i", "0.2", "-W", "1", &vip])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let neigh = |lab: &Lab| lab.ip(&["-n", &c, "-6", "neigh", "show", &vip]);
    assert!(ping(&lab), "the client cannot ping {vip}\n{}", lab.status());
    assert!(neigh(&lab).contains(mac6), "client neighbour entry before: {}", neigh(&lab));
    assert_eq!(lab.term(a), Some(0));
    lab.wait_for(b, MASTER);
    lab.eventually("R2 holding the IPv6 VIP on vrrp.51", lab::TIMEOUT, |lab| holds(lab, R2));
    assert!(ping(&lab), "the client cannot ping {vip} after the failover\n{}", lab.status());
    assert!(neigh(&lab).contains(mac6), "client neighbour entry after: {}", neigh(&lab));
    assert_eq!(vmac_link(&lab, R1), "", "vipd left vrrp.51 on R1");
    assert_eq!(lab.term(b), Some(0));
}
