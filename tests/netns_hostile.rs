//! Hostile peers and faults on the namespace lab (`tests/netns/lab.rs`):
//! crafted adverts from the client host (floods of lower priority, spoofed
//! unicast peers), and the master's own link going down. Each test states
//! the bound vipd keeps; keepalived 2.2.7 is run beside it where it has the
//! same behaviour to compare, and only vipd is held to the bound. They
//! need root; otherwise each prints why it skips and passes.
//!
//! Run with `cargo test --test netns_hostile -- --test-threads=1
//! --nocapture` to see the figures they print.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "netns/inject.rs"]
#[allow(dead_code)]
mod inject;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use lab::Kind::Vipd as VIPD;
use lab::Router::{R1, R2};
use lab::{Lab, Vrrp};

const MASTER: &str = "Entering MASTER STATE";
const HIGH: Vrrp = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, ..Vrrp::V3 };

fn ip4(lab: &Lab, host: u8) -> IpAddr {
    IpAddr::V4(lab.host_addr(host).parse::<Ipv4Addr>().expect("lab address"))
}

/// A VRRPv3 advert for the lab's VRID 51 and VIP from the client.
fn crafted(lab: &Lab, priority: u8, src: IpAddr, dst: IpAddr, ttl: u8) -> inject::Spec {
    inject::Spec {
        version: 3,
        vrid: 51,
        priority,
        interval: 10,
        addrs: vec![IpAddr::V4(lab.vip().parse::<Ipv4Addr>().expect("lab VIP"))],
        src,
        dst,
        ttl,
    }
}

/// Issue 18.1: a master that hears a flood of lower-priority adverts
/// answers at most once per advert interval, announces at most as often
/// as `garp_lower_prio_delay` allows, keeps its own adverts on time, and
/// the backup never takes over.
#[test]
fn lower_priority_flood_is_not_amplified() {
    let Some(mut lab) = Lab::new("flood", 131) else { return };
    let a = lab.start(R1, VIPD, &HIGH);
    lab.wait_for(a, MASTER);
    let b = lab.start(R2, VIPD, &LOW);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));

    let (idle, idle_arps) = lab.capture_sent(R1, Duration::from_secs(2));
    let log_before = lab.log(a).len();

    let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
    let spec = crafted(&lab, 50, ip4(&lab, 10), group, 255);
    let pkt = inject::advert(&spec, inject::multicast_mac(group));
    let rate = 20_000;
    let flood = inject::Sender::start(lab.ns_path("c"), "eth0", vec![pkt], rate, Duration::from_secs(6), 0);
    std::thread::sleep(Duration::from_millis(500));
    let (during, arps) = lab.capture_sent(R1, Duration::from_secs(4));
    let sent = flood.finish();
    let log_growth = lab.log(a).len() - log_before;

    let idle_rate = idle.len() as f64 / 2.0;
    let flood_rate = during.len() as f64 / 4.0;
    let gap = lab::max_gap(&during);
    eprintln!(
        "flood: {sent} crafted adverts sent; R1 sent {idle_rate:.0} adverts/s idle ({idle_arps} ARPs in 2 s), \
         {flood_rate:.0} adverts/s and {arps} ARPs in 4 s under the flood, largest gap {gap:?}, \
         log grew {log_growth} bytes"
    );
    assert!(sent > u64::from(rate), "the flood did not get out: {sent} packets\n{}", lab.status());
    assert!(flood_rate <= 2.0 * idle_rate.max(10.0), "R1 amplifies: {flood_rate:.0}/s vs {idle_rate:.0}/s idle");
    assert!(gap <= Duration::from_millis(200), "R1's adverts stalled: gap {gap:?}\n{}", lab.status());
    // garp_lower_prio_repeat defaults to 5 GARPs a round, and a round at most
    // every garp_lower_prio_delay (5 s) plus its follow-up.
    assert!(arps <= 20, "R1 sent {arps} ARPs in 4 s under the flood\n{}", lab.status());
    assert!(log_growth < 20_000, "R1's log grew {log_growth} bytes under the flood");
    assert_eq!(lab.state(b).as_deref(), Some("BACKUP"), "R2 took over\n{}", lab.status());
    assert!(!lab.log(b).contains(MASTER), "R2 became master during the flood\n{}", lab.status());
    lab.converges_on(R1, Duration::from_millis(300));
}

/// Issue 18.3: the master's own link goes down for 3 s. It releases the
/// VIP (FAULT), the backup holds it within its master-down time, and when
/// the link comes back R1 takes the VIP back (it preempts) and exactly one
/// router holds it.
fn master_link_down(test: &str, net: u8, v: Vrrp) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let high = Vrrp { priority: 150, master: true, ..v };
    let low = Vrrp { priority: 100, master: false, ..v };
    let a = lab.start(R1, VIPD, &high);
    lab.wait_for(a, MASTER);
    let b = lab.start(R2, VIPD, &low);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    let r1 = lab.ns_path("r1");
    let r1 = r1.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    lab.ip(&["-n", &r1, "link", "set", "eth0", "down"]);
    let t0 = std::time::Instant::now();
    // The backup's master-down time, and generous room for a loaded machine.
    let bound = low.master_down() + Duration::from_secs(2);
    lab.eventually("R2 holding the VIP with R1's link down", bound, |l| l.holds_vip(R2));
    let took = t0.elapsed();
    eprintln!("{test}: R2 holds the VIP {took:?} after R1's link went down");
    assert!(!lab.holds_vip(R1), "{test}: R1 kept the VIP with its link down\n{}", lab.status());
    std::thread::sleep(Duration::from_secs(3).saturating_sub(t0.elapsed()));
    lab.ip(&["-n", &r1, "link", "set", "eth0", "up"]);
    lab.converges_on(R1, Duration::from_millis(500));
}

#[test]
fn master_link_down_v3_multicast() {
    master_link_down("linkdown", 132, Vrrp::V3);
}

#[test]
fn master_link_down_v3_unicast() {
    master_link_down("linkdownu", 133, Vrrp { unicast: true, ..Vrrp::V3 });
}

#[test]
fn master_link_down_v2_multicast() {
    master_link_down("linkdown2", 134, Vrrp::V2);
}

/// eth0's MAC on `host`.
fn mac(lab: &Lab, host: &str) -> [u8; 6] {
    let ns = lab.ns_path(host);
    let name = ns.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let out = lab.ip(&["-n", &name, "-o", "link", "show", "dev", "eth0"]);
    let text = out.split("link/ether ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_default();
    let mut m = [0u8; 6];
    for (b, part) in m.iter_mut().zip(text.split(':')) {
        *b = u8::from_str_radix(part, 16).unwrap_or_else(|_| panic!("no MAC in {out}"));
    }
    m
}

const UNICAST: Vrrp = Vrrp { unicast: true, ..Vrrp::V3 };

/// Issue 18.4: a unicast pair (R1 150 master, R2 100), and one crafted
/// advert to R1 that claims to come from R2 with priority 254 and a 40 s
/// interval. R1 yields (VRRP cannot tell), R2 takes over, and R1 must be
/// back within one Master_Down of the interval R2 really sends, not of the
/// 40 s the spoofed advert claimed.
#[test]
fn spoofed_unicast_peer_recovery_is_bounded() {
    let Some(mut lab) = Lab::new("spoof", 135) else { return };
    let a = lab.start(R1, VIPD, &Vrrp { priority: 150, master: true, ..UNICAST });
    lab.wait_for(a, MASTER);
    let b = lab.start(R2, VIPD, &Vrrp { priority: 100, master: false, ..UNICAST });
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    let mut spec = crafted(&lab, 254, ip4(&lab, 2), ip4(&lab, 1), 255);
    spec.interval = 4000;
    let pkt = inject::advert(&spec, mac(&lab, "r1"));
    lab.skip_log(a);
    let t0 = std::time::Instant::now();
    inject::send_all(lab.ns_path("c"), "eth0", vec![pkt]);
    lab.wait_for(a, "Entering BACKUP STATE");
    // Back on R1: R2's master-down (0.36 s), then R1's own at R2's 100 ms
    // interval (0.34 s), and room for a loaded machine.
    lab.eventually("R1 holding the VIP again", Duration::from_secs(3), |l| l.holds_vip(R1) && !l.holds_vip(R2));
    let took = t0.elapsed();
    eprintln!("spoof: R1 master again {took:?} after a spoofed priority-254 advert claiming a 40 s interval");
    lab.converges_on(R1, Duration::from_millis(500));
}

/// Issue 18.4: adverts from an address that is not a configured
/// `unicast_peer` are dropped (and counted) by default: a crafted priority
/// 254 advert from the client changes nothing.
#[test]
fn unicast_advert_from_a_stranger_is_dropped() {
    let Some(mut lab) = Lab::new("stranger", 136) else { return };
    let a = lab.start(R1, VIPD, &Vrrp { priority: 150, master: true, ..UNICAST });
    lab.wait_for(a, MASTER);
    let _b = lab.start(R2, VIPD, &Vrrp { priority: 100, master: false, ..UNICAST });
    lab.converges_on(R1, Duration::from_millis(500));
    let spec = crafted(&lab, 254, ip4(&lab, 10), ip4(&lab, 1), 255);
    let pkt = inject::advert(&spec, mac(&lab, "r1"));
    inject::send_all(lab.ns_path("c"), "eth0", vec![pkt.clone(), pkt.clone(), pkt]);
    lab.wait_for(a, "discarded advert from");
    lab.stays("R1 alone holding the VIP", Duration::from_secs(1), |l| l.holds_vip(R1) && !l.holds_vip(R2));
    assert_eq!(lab.state(a).as_deref(), Some("MASTER"), "R1 yielded to a stranger\n{}", lab.status());
}

/// Issue 12: a VRRPv2 backup (1 s adverts) under a flood of valid
/// priority-50 adverts, as fast as the client can send them (about 78k/s
/// once made a backup take over on 2 cores). On every wakeup the backup
/// reads what its sockets hold before it acts on a due master-down timer,
/// so the master's advert queued behind the flood is always seen: it never
/// takes over. Both routers hear the flood (multicast).
#[test]
fn v2_backup_under_flood_never_takes_over() {
    let Some(mut lab) = Lab::new("flood2", 140) else { return };
    let high = Vrrp { priority: 150, master: true, ..Vrrp::V2 };
    let low = Vrrp { priority: 100, master: false, ..Vrrp::V2 };
    let a = lab.start(R1, VIPD, &high);
    lab.wait_for(a, MASTER);
    let b = lab.start(R2, VIPD, &low);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
    let mut spec = crafted(&lab, 50, ip4(&lab, 10), group, 255);
    spec.version = 2;
    spec.interval = 1;
    let pkt = inject::advert(&spec, inject::multicast_mac(group));
    let monitor = lab.start_monitor(R2);
    // Rate 0: as fast as the client's socket takes them.
    let flood = inject::Sender::start(lab.ns_path("c"), "eth0", vec![pkt], 0, Duration::from_secs(8), 0);
    let adverts = lab.capture_adverts(R1, Duration::from_secs(8));
    let sent = flood.finish();
    let events = lab.stop_monitor(monitor);
    let gap = lab::max_gap(&adverts);
    eprintln!("flood2: {sent} crafted VRRPv2 adverts in 8 s; R1 sent {} adverts, largest gap {gap:?}", adverts.len());
    assert!(sent > 8 * 20_000, "the flood did not get out: {sent} packets\n{}", lab.status());
    assert!(!events.contains(&true), "R2 added the VIP under the flood\n{}", lab.status());
    assert!(!lab.log(b).contains(MASTER), "R2 became master under the flood\n{}", lab.status());
    // Under R2's master-down time (3.6 s); a capture under the flood may
    // miss a frame, so not one interval.
    assert!(gap <= Duration::from_secs(3), "R1's adverts stalled: gap {gap:?}\n{}", lab.status());
    lab.converges_on(R1, Duration::from_millis(300));
}
