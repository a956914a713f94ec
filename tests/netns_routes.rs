//! Real-network tests of `virtual_routes`, `virtual_rules`,
//! `static_routes`, `static_rules` and `static_ipaddress`: the same
//! configuration runs under keepalived 2.2.7 and under vipd, each on both
//! routers of a lab of its own (`tests/netns/lab.rs`), and the routing
//! tables (`ip route show table all`, IPv4 and IPv6) and policy rules
//! (`ip rule`, `ip -6 rule`) of both routers are compared at three points:
//! R1 master and R2 backup; R1 stopped (SIGTERM) and R2 master; both
//! stopped. The only normalisation: link-local addresses (from random veth
//! MACs) are masked, the link-local address's local route (there once DAD
//! ends) is left out, and lines are sorted. A difference prints both sides.
//! They need root; otherwise each prints why it skips and passes.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::time::Duration;

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Kind, Lab, Router};

const NET: u8 = 83;

fn config(r: Router) -> String {
    let n = NET;
    let (prio, state, host) = match r {
        R1 => (150, "MASTER", 1),
        R2 => (100, "BACKUP", 2),
        Router::R3 => (50, "BACKUP", 3),
    };
    format!(
        "global_defs {{
    vrrp_version 3
}}
static_ipaddress {{
    10.{n}.1.{host}/24 dev eth0
}}
static_routes {{
    10.{n}.50.0/24 via 10.{n}.0.254 dev eth0
    blackhole 10.{n}.51.0/24
    10.{n}.53.0/24 dev eth0 table 300 metric 7
}}
static_rules {{
    from 10.{n}.1.0/24 table 200 priority 300
    to 10.{n}.52.0/24 table 201
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {prio}
    advert_int 0.1
    virtual_ipaddress {{
        10.{n}.0.100/24
    }}
    virtual_routes {{
        src 10.{n}.0.100 10.{n}.60.0/24 via 10.{n}.0.254 dev eth0
        10.{n}.61.0/24 via 10.{n}.0.254 table 100 metric 5
        10.{n}.65.0/24 dev eth0
        blackhole 10.{n}.62.0/24
        unreachable 10.{n}.63.0/24 table 100
        prohibit 10.{n}.66.0/24 table 1000
        10.{n}.67.0/24 dev eth0 scope host protocol static
        10.{n}.70.0/24 dev eth0 protocol static no_track
        default via 10.{n}.0.254 table 400
        blackhole fd00:{n}:62::/64
        unreachable fd00:{n}:63::/64 table 100 metric 9
        to 10.{n}.72.0/24 dev eth0 metric 3
    }}
    virtual_rules {{
        from 10.{n}.0.100 table 100 priority 200
        to 10.{n}.64.0/24 table 100
        not from 10.{n}.68.0/24 table 101 preference 250
        fwmark 0x10/0xff table 102 order 260
        iif eth0 to 10.{n}.69.0/24 blackhole priority 270
        from 10.{n}.71.0/24 table 103 priority 280 no_track
        from fd00:{n}:1::/64 table 100
        inet6 type prohibit oif eth0 priority 290
    }}
}}
"
    )
}

/// Routes and rules of `r`, normalised (see the file notes).
fn snapshot(lab: &Lab, r: Router) -> String {
    let host = r.name();
    let path = lab.ns_path(host);
    let ns = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let mut lines = Vec::new();
    for (what, args) in [
        ("route4", &["route", "show", "table", "all"][..]),
        ("route6", &["-6", "route", "show", "table", "all"][..]),
        ("rule4", &["rule"][..]),
        ("rule6", &["-6", "rule"][..]),
    ] {
        let mut argv = vec!["-n", ns.as_str()];
        argv.extend_from_slice(args);
        for l in lab.ip(&argv).lines() {
            // The link-local address's own route comes once DAD is over,
            // whenever that is: not what is compared.
            if l.starts_with("local fe80::") {
                continue;
            }
            let masked: String = l
                .split(' ')
                .map(|w| if w.starts_with("fe80::") && w != "fe80::/64" { "fe80::LL" } else { w })
                .collect::<Vec<_>>()
                .join(" ");
            lines.push(format!("{what}: {}", masked.trim_end()));
        }
    }
    lines.sort();
    lines.join("\n")
}

/// A snapshot once it holds still for 300 ms (routes follow the VIPs).
fn settled(lab: &Lab, r: Router) -> String {
    let mut last = snapshot(lab, r);
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(300));
        let now = snapshot(lab, r);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The snapshots of one daemon: [R1 master, R2 backup, R1 stopped,
/// R2 master, R2 stopped].
fn run(kind: Kind) -> Option<Vec<String>> {
    let test = if kind == KA { "routes-ka" } else { "routes-vipd" };
    let mut lab = Lab::new(test, NET)?;
    let a = lab.start_conf(R1, kind, &config(R1), &[]);
    lab.converges_on(R1, Duration::from_millis(500));
    let b = lab.start_conf(R2, kind, &config(R2), &[]);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.stays("R1 master", Duration::from_millis(500), |l| l.holds_vip(R1));
    let mut out = vec![settled(&lab, R1), settled(&lab, R2)];
    lab.term(a);
    lab.eventually("R2 master", lab::TIMEOUT, |l| l.holds_vip(R2));
    out.push(settled(&lab, R1));
    out.push(settled(&lab, R2));
    lab.term(b);
    out.push(settled(&lab, R2));
    let _ = (lab.log(a), lab.log(b));
    Some(out)
}

#[test]
fn routes_and_rules_match_keepalived() {
    let Some(ka) = run(KA) else { return };
    let Some(vi) = run(lab::actual(VIPD)) else { return };
    const POINTS: [&str; 5] = ["R1 master", "R2 backup", "R1 stopped", "R2 master", "R2 stopped"];
    let mut bad = Vec::new();
    for ((point, k), v) in POINTS.iter().zip(&ka).zip(&vi) {
        if k != v {
            bad.push(format!("=== {point}\n--- keepalived\n{k}\n--- vipd\n{v}"));
        }
    }
    // What each point must show, so an empty comparison cannot pass.
    assert!(
        ka[0].contains(&format!("10.{NET}.60.0/24 via 10.{NET}.0.254 dev eth0 proto keepalived src 10.{NET}.0.100")),
        "{}",
        ka[0]
    );
    assert!(!ka[1].contains(&format!("10.{NET}.60.0/24")), "{}", ka[1]);
    assert!(!ka[2].contains("proto keepalived"), "{}", ka[2]);
    assert!(bad.is_empty(), "vipd's routes and rules differ from keepalived's:\n{}", bad.join("\n"));
}

/// The configuration before (`second` false) and after a reload: a route
/// kept, one changed (its metric, so another route), one dropped and one
/// added; the same for rules, static routes and static rules.
fn reload_config(second: bool) -> String {
    let n = NET;
    let (vroutes, vrules, sroutes, srules) = if second {
        (
            format!(
                "10.{n}.61.0/24 via 10.{n}.0.254 table 100 metric 6\n        10.{n}.73.0/24 dev eth0\n        blackhole 10.{n}.62.0/24"
            ),
            format!("from 10.{n}.0.100 table 100 priority 200\n        to 10.{n}.74.0/24 table 100 priority 210"),
            format!("10.{n}.54.0/24 via 10.{n}.0.254 dev eth0"),
            format!("to 10.{n}.55.0/24 table 202 priority 310"),
        )
    } else {
        (
            format!(
                "src 10.{n}.0.100 10.{n}.60.0/24 via 10.{n}.0.254 dev eth0\n        10.{n}.61.0/24 via 10.{n}.0.254 table 100 metric 5\n        blackhole 10.{n}.62.0/24"
            ),
            format!("from 10.{n}.0.100 table 100 priority 200\n        to 10.{n}.64.0/24 table 100 priority 205"),
            format!("10.{n}.50.0/24 via 10.{n}.0.254 dev eth0\n        blackhole 10.{n}.51.0/24"),
            format!("from 10.{n}.1.0/24 table 200 priority 300"),
        )
    };
    format!(
        "global_defs {{
    vrrp_version 3
}}
static_routes {{
        {sroutes}
}}
static_rules {{
        {srules}
}}
vrrp_instance VI_1 {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.1
    virtual_ipaddress {{
        10.{n}.0.100/24
    }}
    virtual_routes {{
        {vroutes}
    }}
    virtual_rules {{
        {vrules}
    }}
}}
"
    )
}

/// R1 master alone, before and after a SIGHUP that changes its routes and
/// rules.
fn reload_run(kind: Kind) -> Option<[String; 2]> {
    let test = if kind == KA { "routes-hup-ka" } else { "routes-hup-vipd" };
    let mut lab = Lab::new(test, NET)?;
    let a = lab.start_conf(R1, kind, &reload_config(false), &[]);
    lab.converges_on(R1, Duration::from_millis(500));
    let before = settled(&lab, R1);
    let name = if kind == KA { "r1-keepalived-1.conf" } else { "r1-vipd-1.conf" };
    std::fs::write(lab.dir().join(name), reload_config(true)).expect("write the configuration");
    lab.skip_log(a);
    lab.hup(a);
    // keepalived logs no end of a reload: its start, then time enough.
    lab.wait_for(a, if kind == KA { "Reloading" } else { "Reload finished" });
    std::thread::sleep(Duration::from_millis(1500));
    let after = settled(&lab, R1);
    lab.term(a);
    Some([before, after])
}

#[test]
fn a_reload_changes_routes_and_rules_as_keepalived_does() {
    let Some(ka) = reload_run(KA) else { return };
    let Some(vi) = reload_run(lab::actual(VIPD)) else { return };
    // The reload did change something: added, dropped, changed.
    assert!(ka[1].contains(&format!("10.{NET}.73.0/24")), "{}", ka[1]);
    assert!(!ka[1].contains(&format!("10.{NET}.60.0/24")), "{}", ka[1]);
    assert!(!ka[1].contains(&format!("10.{NET}.50.0/24")), "{}", ka[1]);
    assert!(ka[1].contains("210:") && !ka[1].contains("205:") && !ka[1].contains("300:"), "{}", ka[1]);
    assert!(ka[1].contains("metric 6") && !ka[1].contains("metric 5"), "{}", ka[1]);
    for (point, k, v) in [("before", &ka[0], &vi[0]), ("after", &ka[1], &vi[1])] {
        assert!(k == v, "{point} the reload:\n--- keepalived\n{k}\n--- vipd\n{v}");
    }
}

/// R1 master alone, stopped with `-V` (`--dont-release-vrrp`): what it
/// leaves behind.
fn kept_run(kind: Kind) -> Option<String> {
    let test = if kind == KA { "routes-v-ka" } else { "routes-v-vipd" };
    let mut lab = Lab::new(test, NET)?;
    let a = lab.start_conf(R1, kind, &config(R1), &["-V"]);
    lab.converges_on(R1, Duration::from_millis(500));
    let _ = settled(&lab, R1);
    lab.term(a);
    Some(settled(&lab, R1))
}

#[test]
fn dont_release_keeps_routes_and_rules_as_keepalived_does() {
    let Some(ka) = kept_run(KA) else { return };
    let Some(vi) = kept_run(lab::actual(VIPD)) else { return };
    // The virtual ones stay, the static ones go.
    assert!(!ka.contains(&format!("10.{NET}.50.0/24")) && ka.contains(&format!("10.{NET}.60.0/24")), "{ka}");
    assert!(ka == vi, "after -V:\n--- keepalived\n{ka}\n--- vipd\n{vi}");
}
