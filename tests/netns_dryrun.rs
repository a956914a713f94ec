//! `vipd --dry-run` (issue 14) on the namespace lab (`tests/netns/lab.rs`)
//! with a third router, R3 (10.N.0.3), on the same switch: beside a
//! keepalived pair and beside a vipd pair (R1 master at 150, R2 backup at
//! 100, VRRPv3 at 100 ms), dry runs on R3 report through their log and
//! `vipd status` what vipd would do, while a packet socket on R3's switch
//! port counts every VRRP advert, ARP frame and Neighbor Advertisement R3
//! sends (there must be none) and `ip addr` must never show the VIP on R3:
//!
//! - at 200, above the master: "would enter MASTER: higher priority than
//!   10.N.0.1 (200 > 150)", status MASTER, no split_brain although R1 keeps
//!   advertising, and R1 stays master;
//! - reloaded (SIGHUP) at 130: "would enter BACKUP: lower priority than
//!   10.N.0.1 (130 < 150)";
//! - at 120 (between master and backup) and at 50 (below both): BACKUP
//!   following R1; when R1 stops, R2 really takes over, the one at 120
//!   reports it would be master and the one at 50 follows R2.
//!
//! Beside vipd, the dry run is given the live R1's pid file: it must start
//! anyway and leave it alone. Needs root; otherwise it prints why it skips.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "common/json.rs"]
#[allow(dead_code)]
mod json;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use json::Json;
use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2, R3};
use lab::{Lab, Vrrp};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");
const HIGH: Vrrp = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, ..Vrrp::V3 };

/// What R3 sent into its switch port: VRRP adverts (IPv4 or IPv6), ARP
/// frames, Neighbor Advertisements.
#[derive(Debug, Default, PartialEq, Eq)]
struct Sent {
    vrrp: usize,
    arp: usize,
    na: usize,
}

/// A capture of R3's port running until [`Tap::finish`].
struct Tap {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Sent>,
}

impl Tap {
    fn start(lab: &Lab) -> Tap {
        let stop = Arc::new(AtomicBool::new(false));
        let (ns, flag) = (lab.ns_path("sw"), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        // setns moves only the calling thread: a thread of its own.
        let thread = std::thread::spawn(move || {
            let tap = lab::PortTap::open(&ns, "r3", Some(8 << 20));
            let _ = ready_tx.send(());
            let mut buf = [0u8; 2048];
            let mut sent = Sent::default();
            while !flag.load(Ordering::Relaxed) {
                let Some(f) = tap.next(&mut buf) else { continue };
                // What R3 sends arrives on its port; outgoing is for R3.
                if f.outgoing {
                    continue;
                }
                let p = &buf[..f.len];
                match f.protocol {
                    x if x == libc::ETH_P_ARP as u16 => sent.arp += 1,
                    x if x == libc::ETH_P_IP as u16 && p.len() >= 20 && p[9] == 112 => sent.vrrp += 1,
                    x if x == libc::ETH_P_IPV6 as u16 && p.len() >= 41 => match (p[6], p[40]) {
                        (112, _) => sent.vrrp += 1,
                        (58, 136) => sent.na += 1,
                        _ => {}
                    },
                    _ => {}
                }
            }
            assert_eq!(tap.drops(), 0, "the capture dropped frames: its counts would prove nothing");
            sent
        });
        ready_rx.recv_timeout(lab::TIMEOUT).expect("the capture on r3's port started");
        Tap { stop, thread }
    }

    fn finish(self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }
}

/// `vipd status ARGS --control SOCK`: stdout (exit 0 asserted).
fn status(sock: &Path, args: &[&str]) -> String {
    let out = Command::new(VIPD_BIN).arg("status").arg("--control").arg(sock).args(args).output().expect("run vipd");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "vipd status {args:?}: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn status_json(sock: &Path) -> Json {
    let out = status(sock, &["--json"]);
    Json::parse(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

/// VI_1's state and its master's address (None: no master known).
fn state_and_master(sock: &Path) -> (String, Option<String>, bool) {
    let doc = status_json(sock);
    assert_eq!(doc.get("dry_run").bool(), Some(true), "{doc:?}");
    let inst = doc.get("instances").at(0);
    let state = inst.get("state").str().unwrap_or_default().to_owned();
    let master = inst.get("master");
    (state, master.get("address").str().map(str::to_owned), master.get("is_self").bool() == Some(true))
}

/// Starts a dry run on R3 at `priority`, its control socket `sock`, its
/// pid file option `pid`.
fn dry_run(lab: &mut Lab, priority: u8, sock: &Path, pid: &Path) -> lab::Daemon {
    let conf = lab.config(R3, &Vrrp { priority, ..LOW });
    // Notifications that must not happen: a FIFO not created, a script
    // that would leave a file.
    let dir = lab.dir().display().to_string();
    let conf = conf.replacen("global_defs {", &format!("global_defs {{\n    notify_fifo {dir}/dry.fifo"), 1).replacen(
        "    interface eth0",
        &format!("    interface eth0\n    notify_master \"/usr/bin/touch {dir}/notified\""),
        1,
    );
    // What a dry run must not install either: a macvlan, static and
    // virtual routes, a static address (checked by `nothing_installed`).
    let net = net_of(lab);
    let conf = conf
        .replacen(
            "vrrp_instance",
            &format!(
                "static_ipaddress {{\n    {net}.9.3/24 dev eth0\n}}\n\
                 static_routes {{\n    {net}.50.0/24 via {net}.0.254 dev eth0\n}}\nvrrp_instance"
            ),
            1,
        )
        .replacen(
            "    interface eth0",
            &format!("    interface eth0\n    use_vmac\n    virtual_routes {{\n        {net}.60.0/24 dev eth0\n    }}"),
            1,
        );
    let (sock, pid) = (sock.to_string_lossy().into_owned(), pid.to_string_lossy().into_owned());
    let d = lab.start_vipd_args(R3, &conf, &["--dry-run", "--control", &sock, "-p", &pid]);
    lab.wait_for(d, "starting a DRY RUN");
    d
}

/// `10.N` of the lab's subnet.
fn net_of(lab: &Lab) -> String {
    let a = lab.addr(R3);
    a.rsplitn(3, '.').nth(2).unwrap_or_default().to_owned()
}

/// No macvlan, no static address, no static or virtual route on R3 (the
/// dry runs' configurations ask for all of them).
fn nothing_installed(lab: &Lab) {
    let ns = lab.ns_name("r3");
    let net = net_of(lab);
    let links = lab.ip(&["-n", &ns, "-o", "link", "show"]);
    assert!(!links.contains("vrrp.51"), "a dry run created the macvlan:\n{links}");
    let addrs = lab.ip(&["-n", &ns, "-o", "addr", "show"]);
    assert!(!addrs.contains(&format!("{net}.9.3/")), "a dry run added its static address:\n{addrs}");
    let routes = lab.ip(&["-n", &ns, "route", "show", "table", "all"]);
    for r in [format!("{net}.50.0/24"), format!("{net}.60.0/24")] {
        assert!(!routes.contains(&r), "a dry run installed {r}:\n{routes}");
    }
}

fn no_vip_on_r3(lab: &Lab) -> bool {
    !lab.holds_vip(R3)
}

fn beside_pair(test: &str, net: u8, kind: lab::Kind) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    if lab::keepalived_only() {
        eprintln!("{test}: skipped: VIPD_NETNS_KEEPALIVED_ONLY (keepalived has no dry run)");
        return;
    }
    lab.add_router(R3);
    let a = lab.start(R1, kind, &HIGH);
    lab.wait_for(a, "Entering MASTER STATE");
    let b = lab.start(R2, kind, &LOW);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    let tap = Tap::start(&lab);
    // Every address change on R3, so a VIP held between two looks counts.
    let monitor = lab.start_monitor(R3);
    let (r1, r2) = (lab.addr(R1), lab.addr(R2));

    // Beside vipd: the live master's pid file, which a dry run must
    // neither refuse to start over nor touch.
    let pid: PathBuf = if kind == VIPD { lab.pid_file(R1, VIPD) } else { lab.dir().join("dry.pid") };
    let pid_before = fs::read_to_string(&pid).ok();
    assert_eq!(pid_before.is_some(), kind == VIPD, "{}", pid.display());

    // Above the master: it would preempt R1, which never hears it.
    let sock = lab.dir().join("dry-high.sock");
    let high = dry_run(&mut lab, 200, &sock, &pid);
    let line = lab.wait_for(high, "(VI_1) would enter MASTER");
    assert!(line.contains(&format!("higher priority than {r1} (200 > 150)")), "{line}");
    lab.eventually("the dry run reporting MASTER", lab::TIMEOUT, |_| {
        state_and_master(&sock) == ("MASTER".into(), Some(lab.addr(R3)), true)
    });
    // 20 of R1's adverts later: R1 still master and alone with the VIP.
    let alone = |l: &Lab| l.holds_vip(R1) && !l.holds_vip(R2) && no_vip_on_r3(l);
    lab.stays("R1 alone holding the VIP", Duration::from_secs(2), alone);
    nothing_installed(&lab);
    assert_eq!(lab.state(a).as_deref(), Some("MASTER"), "{}", lab.status());
    assert_eq!(state_and_master(&sock).0, "MASTER");
    let text = status(&sock, &[]);
    assert!(text.starts_with("DRY RUN"), "{text}");
    let prom = status(&sock, &["--prometheus"]);
    assert!(prom.lines().any(|l| l == "vipd_dry_run 1"), "{prom}");
    let log = lab.log(high);
    assert!(!log.contains("split_brain"), "a dry run's master hearing R1 is expected:\n{log}");
    assert!(!log.contains("Entering MASTER"), "{log}");
    let up = Command::new(VIPD_BIN).arg("upgrade").arg("--control").arg(&sock).output().expect("run vipd upgrade");
    let why = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success() && why.contains("a dry run is not upgraded"), "vipd upgrade: {why}");
    // SIGHUP with the priority lowered below R1's: it would step down.
    let conf_path = lab.conf_path(high);
    let conf = fs::read_to_string(&conf_path).expect("read the dry run's configuration");
    fs::write(&conf_path, conf.replacen("priority 200", "priority 130", 1)).expect("rewrite it");
    lab.hup(high);
    lab.wait_for(high, "Reload finished");
    let line = lab.wait_for(high, "(VI_1) would enter BACKUP");
    assert!(line.contains(&format!("lower priority than {r1} (130 < 150)")), "{line}");
    lab.eventually("the reloaded dry run following R1", lab::TIMEOUT, |_| {
        state_and_master(&sock) == ("BACKUP".into(), Some(r1.clone()), false)
    });
    assert_eq!(lab.term(high), Some(0), "{}", lab.log(high));
    assert!(!sock.exists(), "the control socket is removed on exit");
    assert_eq!(fs::read_to_string(&pid).ok(), pid_before, "the pid file is left alone");
    if kind == VIPD {
        let doc = status_json(&lab.control_path(R1));
        assert_eq!(doc.get("dry_run").bool(), Some(false), "{doc:?}");
    }

    // Between master and backup, and below both: BACKUP, following R1.
    let (sock_mid, sock_low) = (lab.dir().join("dry-mid.sock"), lab.dir().join("dry-low.sock"));
    let mid = dry_run(&mut lab, 120, &sock_mid, &pid);
    let low = dry_run(&mut lab, 50, &sock_low, &pid);
    for (d, sock) in [(mid, &sock_mid), (low, &sock_low)] {
        lab.wait_for(d, "(VI_1) would enter BACKUP");
        lab.eventually("the dry run following R1", lab::TIMEOUT, |_| {
            state_and_master(sock) == ("BACKUP".into(), Some(r1.clone()), false)
        });
    }

    // The real master stops: R2 takes over; the one at 120 would too, the
    // one at 50 follows R2.
    assert_eq!(lab.term(a), Some(0));
    lab.converges_on(R2, Duration::from_millis(500));
    let line = lab.wait_for(mid, "(VI_1) would enter MASTER");
    assert!(line.contains("master released with priority 0") || line.contains("higher priority than"), "{line}");
    lab.eventually("the dry run at 120 reporting MASTER", lab::TIMEOUT, |_| state_and_master(&sock_mid).0 == "MASTER");
    lab.eventually("the dry run at 50 following R2", lab::TIMEOUT, |_| {
        state_and_master(&sock_low) == ("BACKUP".into(), Some(r2.clone()), false)
    });
    lab.stays("R2 alone holding the VIP", Duration::from_secs(1), |l| {
        l.holds_vip(R2) && !l.holds_vip(R1) && no_vip_on_r3(l)
    });
    assert_eq!(lab.term(mid), Some(0));
    assert_eq!(lab.term(low), Some(0));
    // Their exits sent no priority 0 either: R2 is still master.
    lab.stays("R2 alone holding the VIP", Duration::from_millis(500), |l| l.holds_vip(R2) && !l.holds_vip(R1));
    for f in ["dry.fifo", "notified"] {
        assert!(!lab.dir().join(f).exists(), "{f}: a dry run notified");
    }
    let sent = tap.finish();
    let vip_events = lab.stop_monitor(monitor);
    assert!(vip_events.is_empty(), "the VIP came and went on R3: {vip_events:?}");
    assert_eq!(sent, Sent::default(), "R3 sent frames in dry run\n{}", lab.status());
    for d in [mid, low] {
        let log = lab.log(d);
        assert!(!log.contains("Entering ") && !log.contains("split_brain"), "{log}");
    }
}

#[test]
fn dry_run_beside_keepalived() {
    beside_pair("dryka", 211, KA);
}

#[test]
fn dry_run_beside_vipd() {
    beside_pair("dryvi", 212, VIPD);
}
