//! The ARP/NA watch (split-brain evidence, issue 12) on the namespace lab
//! (`tests/netns/lab.rs`): while vipd is master of an IPv4 and an IPv6
//! VIP, the client host claims them, with a gratuitous ARP and an
//! unsolicited Neighbor Advertisement from another MAC
//! (`tests/netns/inject.rs`), as a second master cut off from VRRP alone
//! would. A driver test: it checks that vipd saw each claim (its `-D` line,
//! which the lab always asks for) and nothing it must not report; the
//! engine's split-brain verdict gets its own assertions with its handler.
//! Needs root; otherwise it prints why it skips and passes.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "netns/inject.rs"]
#[allow(dead_code)]
mod inject;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use lab::Kind::Vipd as VIPD;
use lab::Lab;
use lab::Router::R1;

const NET: u8 = 143;
const OTHER: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];

fn config(net: u8) -> String {
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\n\
         vrrp_instance VI_4 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    \
         priority 150\n    advert_int 0.1\n    virtual_ipaddress {{\n        10.{net}.0.100/24\n    }}\n}}\n\
         vrrp_instance VI_6 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 52\n    \
         priority 150\n    advert_int 0.1\n    virtual_ipaddress {{\n        fd00:{net}::100/64\n    }}\n}}\n"
    )
}

/// Waits until eth0 of namespace `ns` has a link-local address past DAD,
/// the source of IPv6 adverts.
fn link_local_ready(ns: &str) {
    let deadline = Instant::now() + lab::TIMEOUT;
    loop {
        let out = Command::new("ip").args(["-n", ns, "-6", "addr", "show", "dev", "eth0"]).output().expect("run ip");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("inet6 fe80:") && !text.contains("tentative") {
            return;
        }
        assert!(Instant::now() < deadline, "no link-local address on {ns}: {text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ns_name(lab: &Lab, host: &str) -> String {
    lab.ns_path(host).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Issue 12: a claim of a VIP by another MAC is reported, in ARP and in
/// NA, also after a reload; claims of other addresses, of the VIP by our
/// own MAC and NAs from off-link (hop limit below 255) are not.
#[test]
fn claims_of_our_vips_are_seen() {
    let Some(mut lab) = Lab::new("claims", NET) else { return };
    link_local_ready(&ns_name(&lab, "r1"));
    let r1 = lab.start_conf(R1, VIPD, &config(NET), &[]);
    lab.wait_for(r1, "(VI_4) Entering MASTER STATE");
    lab.wait_for(r1, "(VI_6) Entering MASTER STATE");
    assert!(!lab.log(r1).contains("cannot watch ARP/NA"), "{}", lab.log(r1));

    let vip4 = Ipv4Addr::new(10, NET, 0, 100);
    let vip6: Ipv6Addr = format!("fd00:{NET}::100").parse().expect("VIP");
    let stranger4 = Ipv4Addr::new(10, NET, 0, 77);
    let stranger6: Ipv6Addr = format!("fd00:{NET}::77").parse().expect("address");
    let client6: Ipv6Addr = format!("fd00:{NET}::10").parse().expect("address");
    let c = lab.ns_path("c");

    // Not claims worth reporting: another address, and the VIP from off-link.
    let noise = vec![
        inject::garp([0x02, 0, 0, 0, 0, 0x98], stranger4),
        inject::unsolicited_na([0x02, 0, 0, 0, 0, 0x98], stranger6, client6, 255),
        inject::unsolicited_na([0x02, 0, 0, 0, 0, 0x97], vip6, client6, 64),
    ];
    assert_eq!(inject::send_all(c.clone(), "eth0", noise), 3);
    let claims = vec![inject::garp(OTHER, vip4), inject::unsolicited_na(OTHER, vip6, client6, 255)];
    assert_eq!(inject::send_all(c.clone(), "eth0", claims.clone()), 2);
    let line = lab.wait_for(r1, &format!("eth0: {vip4} claimed by 02:00:00:00:00:99"));
    println!("vipd: {line}");
    let line = lab.wait_for(r1, &format!("eth0: {vip6} claimed by 02:00:00:00:00:99"));
    println!("vipd: {line}");
    // The noise went first on the same link: had it been reported, it
    // would be in the log by now.
    let log = lab.log(r1);
    assert!(!log.contains(&format!("{stranger4} claimed")), "{log}");
    assert!(!log.contains(&format!("{stranger6} claimed")), "{log}");
    assert!(!log.contains("claimed by 02:00:00:00:00:97"), "{log}");
    assert!(!log.contains("claimed by 02:00:00:00:00:98"), "{log}");
    // Our own GARPs and NAs (sent on becoming master) are not claims.
    assert_eq!(log.matches(" claimed by ").count(), 2, "{log}");

    // A reload reopens the watchers; past the one-line-a-second limit the
    // same claims are reported again.
    lab.hup(r1);
    lab.wait_for(r1, "Reload finished");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(inject::send_all(c, "eth0", claims), 2);
    lab.wait_for(r1, &format!("eth0: {vip4} claimed by 02:00:00:00:00:99"));
    lab.wait_for(r1, &format!("eth0: {vip6} claimed by 02:00:00:00:00:99"));
    assert!(lab.is_running(r1));
}
