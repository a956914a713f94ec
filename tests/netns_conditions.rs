//! The per-instance conditions (issue 12) on a real network: a reload that
//! makes the pair's address lists drift (vipd against vipd and against
//! keepalived), a partition dropping VRRP one way (nftables) with a client
//! pinging the VIP, another virtual router on our VRID, and unicast peers
//! that are never heard. Each test prints its measured detection and heal
//! times. They need root; otherwise each prints why it skips and passes.
//!
//! The tests run one at a time ([`one_lab`]): their timing bounds (10 ms
//! adverts in the partition test) assume the machine is not also running
//! the other labs of this file.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "common/json.rs"]
#[allow(dead_code)]
mod json;

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use json::Json;
use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Lab, PortTap, Router};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");

/// One lab of this file at a time (see the module comment).
fn one_lab() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lab for `test`, or None (printed why) when it cannot be built or
/// keepalived stands in for vipd (`VIPD_NETNS_KEEPALIVED_ONLY`): these
/// tests read vipd's status.
fn new_lab(test: &str, net: u8) -> Option<Lab> {
    if lab::keepalived_only() {
        println!("{test}: skipped: keepalived has no conditions to ask for");
        return None;
    }
    Lab::new(test, net)
}

/// One VRRPv3 instance VI_1 on eth0, VRID 51, as keepalived.conf (both
/// daemons read it): `state MASTER` above priority 100.
struct Inst<'a> {
    prio: u8,
    /// advert_int in seconds, as written.
    advert: &'a str,
    vips: &'a [&'a str],
    /// unicast_src_ip is the router's own address.
    unicast_peer: Option<&'a str>,
    /// More instance lines (`peer_silent_after 1`).
    extra: &'a str,
}

/// A multicast instance at `prio` with `vips`.
fn plain<'a>(prio: u8, advert: &'a str, vips: &'a [&'a str]) -> Inst<'a> {
    Inst { prio, advert, vips, unicast_peer: None, extra: "" }
}

fn conf(lab: &Lab, r: Router, i: &Inst<'_>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "global_defs {{\n    vrrp_version 3\n}}\n");
    let _ = writeln!(s, "vrrp_instance VI_1 {{");
    let _ = writeln!(s, "    state {}", if i.prio > 100 { "MASTER" } else { "BACKUP" });
    let _ = writeln!(s, "    interface eth0\n    virtual_router_id 51");
    let _ = writeln!(s, "    priority {}\n    advert_int {}", i.prio, i.advert);
    if let Some(peer) = i.unicast_peer {
        let _ = writeln!(s, "    unicast_src_ip {}", lab.addr(r));
        let _ = writeln!(s, "    unicast_peer {{\n        {peer}\n    }}");
    }
    s.push_str(i.extra);
    let _ = writeln!(s, "    virtual_ipaddress {{");
    for v in i.vips {
        let _ = writeln!(s, "        {v}/24");
    }
    let _ = writeln!(s, "    }}\n}}");
    s
}

/// Rewrites `d`'s configuration and sends SIGHUP; returns the time just
/// before the signal (the reference for what the reload causes).
fn reload(lab: &Lab, d: Daemon, text: &str) -> SystemTime {
    std::fs::write(lab.conf_path(d), text).expect("rewrite the configuration");
    let t = SystemTime::now();
    lab.hup(d);
    t
}

fn status_json(lab: &Lab, r: Router) -> Json {
    let out = Command::new(VIPD_BIN)
        .arg("status")
        .arg("--control")
        .arg(lab.control_path(r))
        .arg("--json")
        .output()
        .expect("run vipd status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "vipd status --json: {}\n{}", String::from_utf8_lossy(&out.stderr), lab.status());
    Json::parse(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn vi1(doc: &Json) -> &Json {
    let i = doc.get("instances").at(0);
    assert_eq!(i.get("name").str(), Some("VI_1"), "{doc:?}");
    i
}

/// The raised conditions of VI_1.
fn raised(doc: &Json) -> Vec<String> {
    vi1(doc).get("conditions").arr().iter().filter_map(|c| c.str().map(str::to_owned)).collect()
}

fn state(doc: &Json) -> String {
    vi1(doc).get("state").str().unwrap_or("?").to_owned()
}

fn evidence(doc: &Json, c: &str) -> String {
    vi1(doc).get("condition_details").get(c).get("evidence").str().unwrap_or("-").to_owned()
}

fn secs_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// When a condition was raised, in seconds after the cause.
#[derive(Clone, Copy, Debug)]
struct Raised {
    /// From the status's `since_s` (milliseconds), subtracted from the time
    /// of the answer.
    at: f64,
    /// When the test's polling (every 10 ms) first saw it: an upper bound
    /// that does not depend on the daemon's own bookkeeping.
    seen: f64,
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (first seen by polling after {})", ms(self.at), ms(self.seen))
    }
}

/// Polls `r`'s status every 10 ms until condition `c` is raised; returns
/// when it was raised, in seconds after `from`.
fn wait_raised(lab: &Lab, r: Router, c: &str, from: SystemTime, timeout: Duration) -> Raised {
    try_raised(lab, r, c, from, timeout)
        .unwrap_or_else(|doc| panic!("{r:?}: {c} not raised within {timeout:?}: {doc:?}\n{}", lab.status()))
}

/// [`wait_raised`], or the last status document if it is not raised
/// within `timeout`.
fn try_raised(lab: &Lab, r: Router, c: &str, from: SystemTime, timeout: Duration) -> Result<Raised, Json> {
    let deadline = Instant::now() + timeout;
    loop {
        let doc = status_json(lab, r);
        if raised(&doc).iter().any(|n| n == c) {
            let since = vi1(&doc).get("condition_details").get(c).get("since_s").num().unwrap_or(0.0);
            // The age is computed when the daemon answers, a moment before
            // the answer arrives: an upper bound, within a millisecond.
            let seen = secs_between(from, SystemTime::now());
            return Ok(Raised { at: seen - since, seen });
        }
        if Instant::now() >= deadline {
            return Err(doc);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `r`'s status every 10 ms until condition `c` is no longer raised;
/// returns when that was seen, in seconds after `from`.
fn wait_cleared(lab: &Lab, r: Router, c: &str, from: SystemTime, timeout: Duration) -> f64 {
    let deadline = Instant::now() + timeout;
    loop {
        let doc = status_json(lab, r);
        let seen = SystemTime::now();
        if !raised(&doc).iter().any(|n| n == c) {
            return secs_between(from, seen);
        }
        assert!(Instant::now() < deadline, "{r:?}: {c} still raised after {timeout:?}: {doc:?}\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ms(s: f64) -> String {
    format!("{:.0} ms", s * 1000.0)
}

/// Who holds an address, sampled on both routers as fast as `ip` runs (a
/// few ms a round) by a thread of its own.
struct Holders {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Sampled>,
}

#[derive(Debug, Default)]
struct Sampled {
    rounds: u32,
    /// Rounds with both routers holding it.
    both: u32,
    /// Rounds with neither.
    neither: u32,
    /// Rounds with each router alone.
    r1: u32,
    r2: u32,
}

fn holds(ns: &str, addr: &str) -> bool {
    let out =
        Command::new("ip").args(["-n", ns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdin(Stdio::null()).output();
    out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {addr}/")))
}

fn watch_holders(lab: &Lab, addr: &str) -> Holders {
    let stop = Arc::new(AtomicBool::new(false));
    let (ns1, ns2, addr) = (lab.ns_name("r1"), lab.ns_name("r2"), addr.to_owned());
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut s = Sampled::default();
        while !flag.load(Ordering::Relaxed) {
            let (a, b) = (holds(&ns1, &addr), holds(&ns2, &addr));
            s.rounds += 1;
            match (a, b) {
                (true, true) => s.both += 1,
                (false, false) => s.neither += 1,
                (true, false) => s.r1 += 1,
                (false, true) => s.r2 += 1,
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        s
    });
    Holders { stop, thread }
}

fn stop_holders(h: Holders) -> Sampled {
    h.stop.store(true, Ordering::Relaxed);
    h.thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Starts `kind` on `r` and waits for its first state.
fn start(lab: &mut Lab, r: Router, kind: lab::Kind, text: &str, state: &str) -> Daemon {
    let d = lab.start_conf(r, kind, text, &[]);
    lab.wait_for(d, &format!("Entering {state} STATE"));
    d
}

/// The log lines of `d` containing `pat`, for the test's output.
fn lines_with(lab: &Lab, d: Daemon, pat: &str) -> Vec<String> {
    lab.log(d).lines().filter(|l| l.contains(pat)).map(str::to_owned).collect()
}

/// Issue 12's reload scenario, vipd against vipd: the master gains a VIP
/// and is reloaded before the backup. Neither takes the shared VIP from
/// the other, both report `peer_mismatch` within a few adverts, and both
/// clear it once the backup is reloaded too.
#[test]
fn reload_drift_vipd_pair() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("cdrift", 61) else { return };
    let (a, b) = (lab.vip(), lab.host_addr(101));
    let int = 0.1;
    let c1 = conf(&lab, R1, &plain(150, "0.1", &[&a]));
    let r1 = start(&mut lab, R1, VIPD, &c1, "MASTER");
    let c2 = conf(&lab, R2, &plain(100, "0.1", &[&a]));
    let r2 = start(&mut lab, R2, VIPD, &c2, "BACKUP");
    lab.converges_on(R1, Duration::from_millis(300));
    let (m1, m2) = (lab.start_monitor(R1), lab.start_monitor(R2));
    let watch = watch_holders(&lab, &a);

    let t0 = reload(&lab, r1, &conf(&lab, R1, &plain(150, "0.1", &[&a, &b])));
    let on_master = wait_raised(&lab, R1, "peer_mismatch", t0, Duration::from_secs(5));
    let on_backup = wait_raised(&lab, R2, "peer_mismatch", t0, Duration::from_secs(5));
    println!(
        "reload_drift_vipd_pair: master reloaded with a second VIP: peer_mismatch on the master after {on_master}, \
         on the backup after {on_backup} (adverts every {})",
        ms(int)
    );
    let bound = 10.0 * int;
    assert!(
        on_master.seen <= bound && on_backup.seen <= bound,
        "peer_mismatch later than 10 intervals\n{}",
        lab.status()
    );
    lab.eventually("the master holding the new VIP", Duration::from_secs(5), |l| l.holds_addr(R1, &b));
    for (r, d) in [(R1, r1), (R2, r2)] {
        let line = lab.wait_for(d, "CONDITION peer_mismatch");
        println!("reload_drift_vipd_pair: {r:?}: {line}");
    }
    // Longer than the master's hold (6 Master_Down intervals, about 2 s):
    // only the backup's repeated reports keep it raised there.
    std::thread::sleep(Duration::from_secs(3));
    for r in [R1, R2] {
        let doc = status_json(&lab, r);
        assert!(raised(&doc).contains(&"peer_mismatch".to_owned()), "{r:?}: cleared while drifted: {doc:?}");
    }
    assert_eq!(state(&status_json(&lab, R2)), "BACKUP");
    assert!(!lab.holds_addr(R2, &b), "the backup took the new VIP\n{}", lab.status());

    let t1 = reload(&lab, r2, &conf(&lab, R2, &plain(100, "0.1", &[&a, &b])));
    let off_backup = wait_cleared(&lab, R2, "peer_mismatch", t1, Duration::from_secs(5));
    let off_master = wait_cleared(&lab, R1, "peer_mismatch", t1, Duration::from_secs(10));
    println!(
        "reload_drift_vipd_pair: backup reloaded to match: cleared on the backup after {}, on the master after {}",
        ms(off_backup),
        ms(off_master)
    );
    assert!(off_backup <= bound, "backup kept peer_mismatch after its reload\n{}", lab.status());
    for d in [r1, r2] {
        lab.wait_for(d, "condition peer_mismatch cleared");
    }
    lab.stays("only r1 holding both VIPs", Duration::from_millis(500), |l| {
        l.holds_addr(R1, &a) && l.holds_addr(R1, &b) && !l.holds_addr(R2, &a) && !l.holds_addr(R2, &b)
    });
    let s = stop_holders(watch);
    println!("reload_drift_vipd_pair: VIP A sampled {} times on both routers: {s:?}", s.rounds);
    assert!(s.both == 0 && s.neither == 0 && s.r2 == 0, "VIP A moved or was doubled: {s:?}\n{}", lab.status());
    let (e1, e2) = (lab.stop_monitor(m1), lab.stop_monitor(m2));
    assert!(!e1.contains(&false), "r1 lost VIP A at some point: {e1:?}\n{}", lab.status());
    assert!(e2.is_empty(), "r2 added or deleted VIP A: {e2:?}\n{}", lab.status());
}

/// The reload scenario with keepalived as the master: reloaded with a
/// second VIP, its adverts drift from the vipd backup's configuration.
/// keepalived as the backup would drop them and take over; vipd follows
/// the master, reports `peer_mismatch`, and clears it when reloaded too.
#[test]
fn reload_drift_keepalived_master() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("ckam", 62) else { return };
    let (a, b) = (lab.vip(), lab.host_addr(101));
    let c1 = conf(&lab, R1, &plain(150, "0.1", &[&a]));
    let k = start(&mut lab, R1, KA, &c1, "MASTER");
    let c2 = conf(&lab, R2, &plain(100, "0.1", &[&a]));
    let v = start(&mut lab, R2, VIPD, &c2, "BACKUP");
    lab.converges_on(R1, Duration::from_millis(300));
    let watch = watch_holders(&lab, &a);

    let t0 = reload(&lab, k, &conf(&lab, R1, &plain(150, "0.1", &[&a, &b])));
    let seen = wait_raised(&lab, R2, "peer_mismatch", t0, Duration::from_secs(5));
    lab.eventually("keepalived holding the new VIP", Duration::from_secs(5), |l| l.holds_addr(R1, &b));
    let doc = status_json(&lab, R2);
    println!(
        "reload_drift_keepalived_master: keepalived master reloaded with a second VIP: peer_mismatch on the vipd \
         backup after {seen}: {}",
        evidence(&doc, "peer_mismatch")
    );
    assert!(seen.seen <= 1.0, "peer_mismatch later than 10 intervals\n{}", lab.status());
    // Longer than a Master_Down interval many times over: a backup that
    // dropped the adverts would have taken over long since.
    lab.stays("vipd staying backup without the VIPs", Duration::from_secs(2), |l| {
        !l.holds_addr(R2, &a) && !l.holds_addr(R2, &b) && l.holds_addr(R1, &a)
    });
    let doc = status_json(&lab, R2);
    assert_eq!(state(&doc), "BACKUP", "{doc:?}");
    assert!(raised(&doc).contains(&"peer_mismatch".to_owned()), "{doc:?}");
    for l in lines_with(&lab, k, "VI_1").iter().rev().take(4).rev() {
        println!("reload_drift_keepalived_master: keepalived: {l}");
    }

    let t1 = reload(&lab, v, &conf(&lab, R2, &plain(100, "0.1", &[&a, &b])));
    let off = wait_cleared(&lab, R2, "peer_mismatch", t1, Duration::from_secs(5));
    println!("reload_drift_keepalived_master: vipd reloaded to match: cleared after {}", ms(off));
    assert!(off <= 1.0, "peer_mismatch kept after the reload\n{}", lab.status());
    lab.stays("keepalived alone holding both VIPs", Duration::from_millis(500), |l| {
        l.holds_addr(R1, &b) && !l.holds_addr(R2, &a) && !l.holds_addr(R2, &b)
    });
    let s = stop_holders(watch);
    println!("reload_drift_keepalived_master: VIP A sampled {} times: {s:?}", s.rounds);
    assert!(s.both == 0 && s.neither == 0 && s.r2 == 0, "VIP A moved or was doubled: {s:?}\n{}", lab.status());
}

/// The reload scenario the other way round: vipd master reloaded with a
/// second VIP, keepalived backup. What happens (keepalived 2.2.7): it
/// drops the master's adverts ("received an unexpected ip number count 2,
/// expected 1!"), its master-down timer expires and it takes VIP A too, with
/// a GARP round: two holders, which vipd as master cannot prevent (a
/// keepalived backup sends nothing it could learn from). As master,
/// keepalived then sends one advert and no more (none on the wire for the
/// second the test watches): apparently each packet it reads restarts its
/// advert timer, and vipd's adverts come at the same interval. What vipd
/// guarantees: it stays master with both VIPs; that one advert raises
/// `peer_mismatch` (which clears after its hold); keepalived's GARPs
/// claiming VIP A raise `split_brain` (the address-claim watcher); when
/// keepalived is reloaded to match, it yields, and vipd's `split_brain`
/// clears once the claims have stopped for their hold (eleven seconds).
#[test]
fn reload_drift_keepalived_backup() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("ckab", 63) else { return };
    let (a, b) = (lab.vip(), lab.host_addr(101));
    let c1 = conf(&lab, R1, &plain(150, "0.1", &[&a]));
    let v = start(&mut lab, R1, VIPD, &c1, "MASTER");
    let c2 = conf(&lab, R2, &plain(100, "0.1", &[&a]));
    let k = start(&mut lab, R2, KA, &c2, "BACKUP");
    lab.converges_on(R1, Duration::from_millis(300));

    let t0 = reload(&lab, v, &conf(&lab, R1, &plain(150, "0.1", &[&a, &b])));
    lab.eventually("vipd holding the new VIP", Duration::from_secs(5), |l| l.holds_addr(R1, &b));
    lab.eventually("keepalived taking VIP A", Duration::from_secs(5), |l| l.holds_addr(R2, &a));
    let taken = secs_between(t0, SystemTime::now());
    let mismatch = wait_raised(&lab, R1, "peer_mismatch", t0, Duration::from_secs(5));
    let split = try_raised(&lab, R1, "split_brain", t0, Duration::from_secs(3));
    let adverts = lab.capture_adverts(R2, Duration::from_secs(1));
    println!(
        "reload_drift_keepalived_backup: vipd master reloaded with a second VIP: the keepalived backup took VIP A \
         too after {} (polling); it then sent {} advert(s) in 1 s",
        ms(taken),
        adverts.len()
    );
    for l in lines_with(&lab, k, "VI_1").iter().rev().take(4).rev() {
        println!("reload_drift_keepalived_backup: keepalived: {l}");
    }
    let doc = status_json(&lab, R1);
    println!(
        "reload_drift_keepalived_backup: vipd: peer_mismatch after {mismatch}: {}",
        evidence(&doc, "peer_mismatch")
    );
    match &split {
        Ok(t) => {
            println!("reload_drift_keepalived_backup: vipd: split_brain after {t}: {}", evidence(&doc, "split_brain"))
        }
        Err(_) => println!("reload_drift_keepalived_backup: vipd: split_brain NOT raised within 3 s"),
    }
    assert_eq!(state(&doc), "MASTER", "{doc:?}");
    assert!(lab.holds_addr(R1, &a) && lab.holds_addr(R1, &b), "vipd lost a VIP\n{}", lab.status());

    let t1 = reload(&lab, k, &conf(&lab, R2, &plain(100, "0.1", &[&a, &b])));
    lab.eventually("keepalived releasing VIP A", Duration::from_secs(5), |l| !l.holds_addr(R2, &a));
    let released = secs_between(t1, SystemTime::now());
    // keepalived, reloaded while master, sets VIP A again and announces it
    // before it hears vipd and steps down, and its kernel may still ARP
    // from VIP A: claims that can reach vipd after the adverts agree and
    // raise split_brain again, for its hold time. So each condition counts
    // as cleared once vipd has reported it down for 2 s running.
    let mut cleared = String::new();
    let quiet = Duration::from_secs(2);
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut last_raised = [None::<SystemTime>; 2];
    let mut quiet_from = Instant::now();
    loop {
        let doc = status_json(&lab, R1);
        let now = raised(&doc);
        for (k, c) in ["peer_mismatch", "split_brain"].into_iter().enumerate() {
            if now.iter().any(|n| n == c) {
                last_raised[k] = Some(SystemTime::now());
                quiet_from = Instant::now();
            }
        }
        if quiet_from.elapsed() >= quiet {
            break;
        }
        assert!(Instant::now() < deadline, "still raised 25 s after keepalived's reload: {doc:?}\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(10));
    }
    for (k, c) in ["peer_mismatch", "split_brain"].into_iter().enumerate() {
        match last_raised[k] {
            Some(t) => {
                let _ = write!(cleared, " {c} last seen raised {} after the reload;", ms(secs_between(t1, t)));
            }
            None => {
                let _ = write!(cleared, " {c} was not raised any more;");
            }
        }
    }
    println!(
        "reload_drift_keepalived_backup: keepalived reloaded to match: it released VIP A after {} (polling); after \
         its reload, on vipd:{cleared}",
        ms(released)
    );
    lab.converges_on(R1, Duration::from_millis(300));
    let doc = status_json(&lab, R1);
    assert!(raised(&doc).is_empty(), "{doc:?}");
    assert!(split.is_ok(), "vipd never reported split_brain while keepalived held VIP A too\n{}", lab.status());
}

/// `nft` in `host`'s namespace with `script` on its standard input.
fn nft(lab: &Lab, host: &str, script: &str) {
    use std::io::Write as _;
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.ns_name(host), "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nft (scripts/test installs nftables)");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).expect("write the nft script");
    }
    let out = child.wait_with_output().expect("wait for nft");
    assert!(out.status.success(), "nft -f - <<{script}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Gratuitous ARP frames (sender and target address both `addr`) seen on
/// the client's eth0, with their source MAC and kernel time stamp, until
/// told to stop.
struct GarpTap {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<(Duration, [u8; 6])>>,
}

fn tap_garps(lab: &Lab, addr: [u8; 4]) -> GarpTap {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let ns = lab.ns_path("c");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let tap = PortTap::open(&ns, "eth0", Some(8 << 20));
        let _ = tx.send(());
        let mut buf = [0u8; 2048];
        let mut out = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let Some(f) = tap.next(&mut buf) else { continue };
            let p = &buf[..f.len];
            // SOCK_DGRAM: the ARP header; sender IP at 14, target IP at 24.
            if f.protocol == libc::ETH_P_ARP as u16 && p.len() >= 28 && p[14..18] == addr && p[24..28] == addr {
                out.push((f.at, f.mac));
            }
        }
        out
    });
    rx.recv().expect("the tap thread opened its socket");
    GarpTap { stop, thread }
}

fn stop_garps(t: GarpTap) -> Vec<(Duration, [u8; 6])> {
    t.stop.store(true, Ordering::Relaxed);
    t.thread.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Issue 12's partition: VRRP dropped one way (on the backup's input) at
/// 10 ms adverts while the client pings the VIP every 5 ms. The backup
/// stops hearing the master and takes over; the master hears the backup's
/// lower-priority adverts in a row and the backup sees the master's ARP
/// claims of the VIP: both report `split_brain`. After the heal exactly one
/// holds the VIP, both clear the condition, the master announces itself
/// with a GARP round, and the client's pings get through again within
/// 100 ms.
#[test]
fn partition_split_brain() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("cpart", 64) else { return };
    let vip = lab.vip();
    let c1 = conf(&lab, R1, &plain(150, "0.01", &[&vip]));
    let r1 = start(&mut lab, R1, VIPD, &c1, "MASTER");
    let c2 = conf(&lab, R2, &plain(100, "0.01", &[&vip]));
    let r2 = start(&mut lab, R2, VIPD, &c2, "BACKUP");
    lab.converges_on(R1, Duration::from_millis(300));
    let ping_out = lab.dir().join("ping.txt");
    let c_ns = lab.ns_name("c");
    let ping = ["ip", "netns", "exec", &c_ns, "ping", "-D", "-n", "-i", "0.005", &vip];
    let _ping = lab.start_helper("ping.txt", &ping);
    lab.eventually("the client reaching the VIP", Duration::from_secs(5), |_| lab::replies(&ping_out).len() >= 20);
    let vip4: [u8; 4] = [10, lab.net, 0, 100];
    let garps = tap_garps(&lab, vip4);
    let r1_mac = lab.mac("r1");

    let t_cut = SystemTime::now();
    nft(
        &lab,
        "r2",
        "table inet vipdtest {\n chain input {\n  type filter hook input priority 0;\n  meta l4proto 112 drop\n }\n}\n",
    );
    let on_backup_master = {
        lab.eventually("r2 taking the VIP", Duration::from_secs(5), |l| l.holds_vip(R2));
        secs_between(t_cut, SystemTime::now())
    };
    let on_master = wait_raised(&lab, R1, "split_brain", t_cut, Duration::from_secs(5));
    assert!(on_master.seen <= 1.0, "split_brain on the master only after {on_master}\n{}", lab.status());
    let doc = status_json(&lab, R1);
    println!(
        "partition_split_brain: VRRP dropped on r2's input: r2 held the VIP after {} (polling); split_brain on the \
         master after {on_master}: {}",
        ms(on_backup_master),
        evidence(&doc, "split_brain")
    );
    let on_backup = try_raised(&lab, R2, "split_brain", t_cut, Duration::from_secs(3));
    let doc = status_json(&lab, R2);
    match &on_backup {
        Ok(t) => {
            println!("partition_split_brain: split_brain on the backup after {t}: {}", evidence(&doc, "split_brain"))
        }
        Err(_) => println!("partition_split_brain: split_brain NOT raised on the backup within 3 s"),
    }
    println!("partition_split_brain: R1: {}", lab.wait_for(r1, "CONDITION split_brain"));
    if on_backup.is_ok() {
        println!("partition_split_brain: R2: {}", lab.wait_for(r2, "CONDITION split_brain"));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The client's worst case: it followed the backup's GARPs (which of
    // the two rounds it heard last is up to timing), so at the heal its
    // packets go to the router that releases the VIP and only the master's
    // GARP round brings them back.
    let r2_mac = lab.mac("r2").map(|b| format!("{b:02x}")).join(":");
    lab.ip(&["-n", &c_ns, "neigh", "replace", &vip, "lladdr", &r2_mac, "dev", "eth0", "nud", "reachable"]);
    let pointed = SystemTime::now();
    std::thread::sleep(Duration::from_millis(100));
    let to_r2 = lab::replies(&ping_out).iter().filter(|&&x| x > unix(pointed)).count();
    println!("partition_split_brain: client pointed at r2 ({r2_mac}): {to_r2} replies from it in 100 ms");
    assert!(to_r2 > 0, "r2 does not answer for the VIP during the partition\n{}", lab.status());

    let t_heal = SystemTime::now();
    nft(&lab, "r2", "delete table inet vipdtest\n");
    let healed = wait_cleared(&lab, R1, "split_brain", t_heal, Duration::from_secs(5));
    let healed_backup = wait_cleared(&lab, R2, "split_brain", t_heal, Duration::from_secs(5));
    lab.converges_on(R1, Duration::from_millis(500));
    println!(
        "partition_split_brain: healed: split_brain cleared on the master after {}, on the backup {}",
        ms(healed),
        if on_backup.is_ok() { format!("after {}", ms(healed_backup)) } else { "(never raised)".into() }
    );
    assert_eq!(state(&status_json(&lab, R2)), "BACKUP");
    let heal = unix(t_heal);
    let frames = stop_garps(garps);
    let after: Vec<f64> = frames
        .iter()
        .filter(|(_, mac)| *mac == r1_mac)
        .map(|(at, _)| at.as_secs_f64() - heal)
        .filter(|&t| t > 0.0)
        .collect();
    println!(
        "partition_split_brain: {} GARPs from r1 after the heal, the first after {}",
        after.len(),
        after.first().map_or("-".into(), |&t| ms(t))
    );
    assert!(!after.is_empty(), "no GARP from the master after the heal: {frames:?}\n{}", lab.status());
    assert!(after[0] <= 1.0, "the master's GARP round came {} after the heal", ms(after[0]));

    // The client: the longest time without a reply across the heal, and
    // when replies came back for good: the end of the last gap longer than
    // four ping intervals after it.
    let settled = t_heal + Duration::from_millis(1100);
    if let Ok(left) = settled.duration_since(SystemTime::now()) {
        std::thread::sleep(left);
    }
    let t = lab::replies(&ping_out);
    let window: Vec<f64> = t.iter().copied().filter(|&x| x > heal - 1.0 && x < heal + 1.0).collect();
    assert!(window.last().is_some_and(|&x| x > heal + 0.9), "the client lost the VIP for good\n{}", lab.status());
    let gaps: Vec<(f64, f64)> = window.windows(2).filter(|w| w[1] > heal).map(|w| (w[1] - w[0], w[1])).collect();
    let longest = gaps.iter().copied().fold((0.0, heal), |m, g| if g.0 > m.0 { g } else { m });
    let back = gaps.iter().filter(|g| g.0 > 0.02).map(|g| g.1 - heal).fold(0.0, f64::max);
    println!(
        "partition_split_brain: client (pings every 5 ms): longest wait for a reply across the heal {} (ending {} \
         after it); replies steady from {} after the heal",
        ms(longest.0),
        ms(longest.1 - heal),
        ms(back)
    );
    assert!(back <= 0.1, "the client's pings came back only {} after the heal\n{}", ms(back), lab.status());
    // Last: without it, the rest of the scenario still ran and printed.
    assert!(on_backup.is_ok(), "the backup never reported split_brain while both held the VIP\n{}", lab.status());
    assert!(on_backup.as_ref().is_ok_and(|t| t.seen <= 1.0), "split_brain on the backup late: {on_backup:?}");
}

/// Issue 12: another virtual router on the same VRID and link, with a
/// disjoint address list. Each ignores the other's adverts (counted as
/// address-list errors, as keepalived does), so both are master of their
/// own VIPs, and both report `vrid_collision`, nothing else.
#[test]
fn vrid_collision_disjoint_vips() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("ccoll", 65) else { return };
    let (a, c) = (lab.vip(), lab.host_addr(102));
    let c1 = conf(&lab, R1, &plain(150, "0.1", &[&a]));
    start(&mut lab, R1, VIPD, &c1, "MASTER");
    let c2 = conf(&lab, R2, &plain(100, "0.1", &[&c]));
    let t0 = SystemTime::now();
    let r2 = start(&mut lab, R2, VIPD, &c2, "BACKUP");
    let on_second = wait_raised(&lab, R2, "vrid_collision", t0, Duration::from_secs(5));
    let on_first = wait_raised(&lab, R1, "vrid_collision", t0, Duration::from_secs(5));
    println!(
        "vrid_collision_disjoint_vips: second router started: vrid_collision on it after {on_second}, on the first \
         after {on_first}"
    );
    lab.wait_for(r2, "Entering MASTER STATE");
    for r in [R1, R2] {
        let doc = status_json(&lab, r);
        println!("vrid_collision_disjoint_vips: {r:?}: {}", evidence(&doc, "vrid_collision"));
    }
    lab.stays("each router holding its own VIP only", Duration::from_secs(2), |l| {
        l.holds_addr(R1, &a) && l.holds_addr(R2, &c) && !l.holds_addr(R1, &c) && !l.holds_addr(R2, &a)
    });
    for r in [R1, R2] {
        let doc = status_json(&lab, r);
        assert_eq!(raised(&doc), ["vrid_collision"], "{r:?}: {doc:?}");
        assert_eq!(state(&doc), "MASTER", "{r:?}: {doc:?}");
        let errors = vi1(&doc).get("counters").get("address_list_errors").num().unwrap_or(0.0);
        assert!(errors > 0.0, "{r:?}: the other's adverts not counted as address-list errors: {doc:?}");
    }
}

/// A unicast instance at 100 ms adverts with `peer_silent_after 1`: the
/// effective threshold is 8 Master_Down intervals (about 2.7 s).
fn unicast<'a>(prio: u8, vips: &'a [&'a str], peer: &'a str) -> Inst<'a> {
    Inst { prio, advert: "0.1", vips, unicast_peer: Some(peer), extra: "    peer_silent_after 1\n" }
}

/// 8 Master_Down intervals at 100 ms adverts and priority `prio`.
fn silent_after(prio: u8) -> f64 {
    8.0 * (0.3 + 0.1 * f64::from(256 - u32::from(prio)) / 256.0)
}

/// Issue 12: a unicast pair whose peer addresses are wrong (a typo, a
/// security group dropping protocol 112): both become master, and each
/// reports `peer_silent` once its configured peer has sent nothing for
/// `peer_silent_after` (at least 8 Master_Down intervals).
#[test]
fn unicast_wrong_peer_silent() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("cuwrong", 66) else { return };
    let vip = lab.vip();
    let (p1, p2) = (lab.host_addr(201), lab.host_addr(202));
    let c1 = conf(&lab, R1, &unicast(150, &[&vip], &p1));
    let c2 = conf(&lab, R2, &unicast(100, &[&vip], &p2));
    let t0 = SystemTime::now();
    start(&mut lab, R1, VIPD, &c1, "MASTER");
    start(&mut lab, R2, VIPD, &c2, "BACKUP");
    for (r, prio) in [(R1, 150), (R2, 100)] {
        wait_raised(&lab, r, "peer_silent", t0, Duration::from_secs(10));
        let doc = status_json(&lab, r);
        let i = vi1(&doc);
        assert_eq!(state(&doc), "MASTER", "{doc:?}");
        // Time in MASTER minus the condition's age: how long after becoming
        // master it was raised, from the daemon's own clock.
        let in_state = i.get("since_s").num().unwrap_or(0.0);
        let age = i.get("condition_details").get("peer_silent").get("since_s").num().unwrap_or(0.0);
        let after = in_state - age;
        println!(
            "unicast_wrong_peer_silent: {r:?}: peer_silent {} after becoming master (threshold {}): {}",
            ms(after),
            ms(silent_after(prio)),
            evidence(&doc, "peer_silent")
        );
        assert!(after >= silent_after(prio) - 0.01, "{r:?}: raised before the threshold: {doc:?}");
        assert!(after <= silent_after(prio) + 0.5, "{r:?}: raised late: {doc:?}");
    }
    assert!(lab.holds_vip(R1) && lab.holds_vip(R2), "two masters should both hold the VIP\n{}", lab.status());
}

/// The same pair with the right peer addresses: the backup's presence
/// reports (every third of `peer_silent_after`) keep the master from ever
/// calling it silent, and neither raises anything.
#[test]
fn unicast_right_peer_quiet() {
    let _one = one_lab();
    let Some(mut lab) = new_lab("curight", 67) else { return };
    let vip = lab.vip();
    let (a1, a2) = (lab.addr(R1), lab.addr(R2));
    let c1 = conf(&lab, R1, &unicast(150, &[&vip], &a2));
    let c2 = conf(&lab, R2, &unicast(100, &[&vip], &a1));
    start(&mut lab, R1, VIPD, &c1, "MASTER");
    start(&mut lab, R2, VIPD, &c2, "BACKUP");
    lab.converges_on(R1, Duration::from_millis(200));
    let quiet = Duration::from_secs(5);
    lab.stays("nothing raised", quiet, |l| {
        raised(&status_json(l, R1)).is_empty() && raised(&status_json(l, R2)).is_empty()
    });
    let doc = status_json(&lab, R1);
    let heard = vi1(&doc).get("counters").get("adverts_received").num().unwrap_or(0.0);
    println!(
        "unicast_right_peer_quiet: {} s past the {} threshold: nothing raised; the master received {heard} presence \
         reports from the backup",
        quiet.as_secs(),
        ms(silent_after(150))
    );
    assert_eq!(state(&doc), "MASTER");
    assert!(heard >= 3.0, "the backup's presence reports did not arrive: {doc:?}");
    lab.converges_on(R1, Duration::from_millis(100));
}
