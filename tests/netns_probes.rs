//! Real-network tests of `vrrp_probe` (vipd's in-process TCP and HTTP
//! checks) in the lab of `tests/netns/lab.rs`: a vipd pair, R1 (priority
//! 150) tracking a probe against a service in its own namespace, R2 (100)
//! without one. Stopping the service moves the VIP to R2, starting it
//! brings it back (preemption). The services are real: nginx (Debian's
//! package, which scripts/test installs) and listeners of this test process
//! on a thread that entered R1's namespace, among them hostile ones (silent,
//! slow, a 10 MB flood, a reset), which must count as failures without
//! holding up the master's adverts. Root only; otherwise each test prints
//! why it skips.
//!
//! `cargo test --test netns_probes -- --nocapture` prints the detection
//! times and advert gaps measured.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "netns/nginx.rs"]
mod nginx;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lab::Kind::Vipd as VIPD;
use lab::Lab;
use lab::Router::{R1, R2};
use nginx::{Nginx, in_ns};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");

/// Adverts every 100 ms; the backup takes over 3 adverts and a skew after
/// the master's priority falls below its own.
const ADVERT_INT: &str = "0.1";

/// Probe settings of the failover tests: 100 ms, 2 in a row.
const PROBE: &str = "    interval 0.1\n    timeout 0.05\n    rise 2\n    fall 2\n";

/// From the service stopping to the VIP on R2: 2 failed probes (≤ 300 ms),
/// the master-down interval (≈ 360 ms), and a loaded machine.
const DETECT_BOUND: Duration = Duration::from_secs(3);

fn config(probes: &str, priority: u8, track: &str) -> String {
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\n\n{probes}\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    \
         virtual_router_id 51\n    priority {priority}\n    advert_int {ADVERT_INT}\n{track}    virtual_ipaddress {{\n        \
         VIP/24\n    }}\n}}\n"
    )
}

/// Starts R1 with `probes` tracked by `names` (`track_script` lines) and R2
/// without trackers; returns R1's daemon once it holds the VIP alone.
fn start_pair(lab: &mut Lab, probes: &str, names: &str) -> lab::Daemon {
    let vip = lab.vip();
    let track = format!("    track_script {{\n{names}    }}\n");
    let r1 = config(probes, 150, &track).replace("VIP", &vip);
    let r2 = config("", 100, "").replace("VIP", &vip);
    let a = lab.start_conf(R1, VIPD, &r1, &[]);
    lab.start_conf(R2, VIPD, &r2, &[]);
    lab.converges_on(R1, Duration::from_millis(500));
    a
}

/// `vipd status` of R1 (table).
fn status(lab: &Lab) -> String {
    let out = Command::new(VIPD_BIN).arg("status").arg("--control").arg(lab.control_path(R1)).output().expect("status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `track` row of tracker `name` in R1's status table.
fn track_row(lab: &Lab, name: &str) -> String {
    let s = status(lab);
    s.lines()
        .find(|l| l.trim_start().trim_start_matches("track").trim_start().starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no row for {name} in\n{s}"))
        .to_owned()
}

/// How a test listener treats each connection.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Accepts, then closes (for `tcp` probes).
    Accept,
    /// Accepts and never answers (keeps the connection open).
    Silent,
    /// Answers `200 OK`, but only after this long.
    Slow(Duration),
    /// Sends 10 MB that are not HTTP.
    Flood,
    /// Reads the request, then resets the connection.
    Reset,
}

/// A listener in R1's namespace, closed when dropped.
struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Connections accepted so far.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
}

impl Listener {
    fn start(ns: &Path, addr: &'static str, how: Behaviour) -> Listener {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let (s, n) = (stop.clone(), accepted.clone());
        let thread = in_ns(ns.to_owned(), move || {
            let l = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            l.set_nonblocking(true).expect("nonblocking");
            let _ = tx.send(());
            let mut held: Vec<TcpStream> = Vec::new();
            while !s.load(Ordering::Relaxed) {
                let Ok((c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                };
                n.fetch_add(1, Ordering::Relaxed);
                let _ = c.set_nonblocking(false);
                match how {
                    Behaviour::Accept => drop(c),
                    Behaviour::Silent => {
                        if held.len() >= 256 {
                            held.remove(0);
                        }
                        held.push(c);
                    }
                    Behaviour::Slow(d) => {
                        std::thread::spawn(move || {
                            let mut c = c;
                            std::thread::sleep(d);
                            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        });
                    }
                    Behaviour::Flood => {
                        std::thread::spawn(move || {
                            let mut c = c;
                            let chunk = vec![b'x'; 64 << 10];
                            for _ in 0..160 {
                                if c.write_all(&chunk).is_err() {
                                    return;
                                }
                            }
                        });
                    }
                    Behaviour::Reset => {
                        let mut c = c;
                        let _ = c.set_read_timeout(Some(Duration::from_millis(200)));
                        let mut buf = [0u8; 512];
                        let _ = c.read(&mut buf);
                        let linger = libc::linger { l_onoff: 1, l_linger: 0 };
                        // SAFETY: a valid socket fd and a correctly sized linger.
                        unsafe {
                            libc::setsockopt(
                                c.as_raw_fd(),
                                libc::SOL_SOCKET,
                                libc::SO_LINGER,
                                (&linger as *const libc::linger).cast(),
                                core::mem::size_of::<libc::linger>() as libc::socklen_t,
                            );
                        }
                        drop(c);
                    }
                }
            }
        });
        rx.recv_timeout(lab::TIMEOUT).expect("the listener binds");
        Listener { stop, thread: Some(thread), accepted }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Polls until R2 alone holds the VIP; how long that took from `since`.
fn moves_to(lab: &Lab, r: lab::Router, since: Instant) -> Duration {
    lab.eventually(&format!("VIP on {r:?}"), lab::TIMEOUT, |l| l.holds_vip(r) && !l.holds_vip(r.other()));
    since.elapsed()
}

/// nginx behind an `http` probe on the master: stopping nginx moves the VIP
/// to the backup, starting it brings it back.
#[test]
fn http_probe_follows_nginx() {
    let Some(mut lab) = Lab::new("prb-http", 201) else { return };
    let Some(nginx) = Nginx::new(&lab) else { return };
    nginx.start(&mut lab, 1);
    let probe = format!(
        "vrrp_probe chk_web {{\n    http http://127.0.0.1:8080/healthz\n    expect 200\n{PROBE}    weight -60\n}}\n"
    );
    let a = start_pair(&mut lab, &probe, "        chk_web\n");
    lab.eventually("chk_web up", lab::TIMEOUT, |l| track_row(l, "chk_web").contains(" up "));
    let row = track_row(&lab, "chk_web");
    assert!(row.contains("probe") && row.contains("HTTP 200"), "{row}");
    let log = std::fs::read_to_string(nginx.access_log()).unwrap_or_default();
    let seen = log.lines().filter(|l| l.contains("\"GET /healthz HTTP/1.1\" 200") && l.contains("\"vipd\"")).count();
    assert!(seen >= 2, "nginx logged {seen} probe requests:\n{log}");

    let t0 = Instant::now();
    nginx.stop();
    let took = moves_to(&lab, R2, t0);
    eprintln!("http_probe_follows_nginx: nginx stopped -> VIP on R2 in {took:?}");
    assert!(took <= DETECT_BOUND, "detection took {took:?}\n{}", lab.status());
    let row = track_row(&lab, "chk_web");
    assert!(row.contains("down") && row.contains("connect refused"), "{row}");
    lab.wait_for(a, "VRRP_Script(chk_web) failed (connect refused)");

    let t0 = Instant::now();
    nginx.start(&mut lab, 2);
    let took = moves_to(&lab, R1, t0);
    eprintln!("http_probe_follows_nginx: nginx started -> VIP back on R1 in {took:?}");
    lab.converges_on(R1, Duration::from_millis(500));
    lab.wait_for(a, "VRRP_Script(chk_web) succeeded");
    nginx.stop();
}

/// A wrong status is a failure: the same nginx, a path it answers with 503.
#[test]
fn http_probe_counts_a_503_as_down() {
    let Some(mut lab) = Lab::new("prb-503", 202) else { return };
    let Some(nginx) = Nginx::new(&lab) else { return };
    nginx.start(&mut lab, 1);
    let probe = format!("vrrp_probe chk_web {{\n    http http://127.0.0.1:8080/other\n{PROBE}    weight -60\n}}\n");
    let vip = lab.vip();
    let track = "    track_script {\n        chk_web\n    }\n";
    lab.start_conf(R1, VIPD, &config(&probe, 150, track).replace("VIP", &vip), &[]);
    lab.start_conf(R2, VIPD, &config("", 100, "").replace("VIP", &vip), &[]);
    lab.converges_on(R2, Duration::from_millis(500));
    let row = track_row(&lab, "chk_web");
    assert!(row.contains("down") && row.contains("HTTP 503"), "{row}");
    nginx.stop();
}

/// A `tcp` probe over IPv6 against a listener on R1's `[::1]`: closing the
/// listener moves the VIP, opening it again brings it back.
#[test]
fn tcp_probe_over_ipv6_follows_its_listener() {
    let Some(mut lab) = Lab::new("prb-tcp6", 203) else { return };
    let ns = lab.ns_path("r1");
    let l = Listener::start(&ns, "[::1]:8443", Behaviour::Accept);
    let probe = format!("vrrp_probe chk_tcp {{\n    tcp [::1]:8443\n{PROBE}    weight -60\n}}\n");
    let a = start_pair(&mut lab, &probe, "        chk_tcp\n");
    lab.eventually("chk_tcp up", lab::TIMEOUT, |l| track_row(l, "chk_tcp").contains(" up "));
    assert!(track_row(&lab, "chk_tcp").contains("connected"));
    assert!(l.accepted.load(Ordering::Relaxed) >= 2, "the probe reached the listener");

    let t0 = Instant::now();
    drop(l);
    let took = moves_to(&lab, R2, t0);
    eprintln!("tcp_probe_over_ipv6: listener closed -> VIP on R2 in {took:?}");
    assert!(took <= DETECT_BOUND, "detection took {took:?}\n{}", lab.status());
    lab.wait_for(a, "VRRP_Script(chk_tcp) failed (connect refused)");

    let t0 = Instant::now();
    let l = Listener::start(&ns, "[::1]:8443", Behaviour::Accept);
    let took = moves_to(&lab, R1, t0);
    eprintln!("tcp_probe_over_ipv6: listener back -> VIP on R1 in {took:?}");
    lab.converges_on(R1, Duration::from_millis(500));

    // A reload that points the probe elsewhere stops the old runs and
    // starts the new ones: nothing listens on 8444 yet.
    let path = lab.conf_path(a);
    let conf = std::fs::read_to_string(&path).expect("config");
    std::fs::write(&path, conf.replace("[::1]:8443", "[::1]:8444")).expect("rewrite config");
    let before = l.accepted.load(Ordering::Relaxed);
    lab.hup(a);
    lab.wait_for(a, "Reloading");
    moves_to(&lab, R2, Instant::now());
    std::thread::sleep(Duration::from_millis(300));
    let after = l.accepted.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(l.accepted.load(Ordering::Relaxed), after, "the old probe still runs after the reload");
    assert!(after >= before);
    let _l2 = Listener::start(&ns, "[::1]:8444", Behaviour::Accept);
    moves_to(&lab, R1, Instant::now());
    lab.converges_on(R1, Duration::from_millis(500));
}

/// Four hostile HTTP services probed every 50 ms: one silent, one answering
/// after 200 ms (timeout 50 ms), one sending 10 MB of non-HTTP, one
/// resetting. Each counts as a failure (down after `fall 2`, weight -10
/// each: R1's priority 110 still beats R2's 100), and none holds up the
/// master's adverts: the largest gap on the wire stays near the interval.
#[test]
fn hostile_services_fail_without_blocking_the_loop() {
    let Some(mut lab) = Lab::new("prb-host", 204) else { return };
    let ns = lab.ns_path("r1");
    let listeners = [
        ("chk_silent", "127.0.0.1:9001", Behaviour::Silent, "timed out"),
        ("chk_slow", "127.0.0.1:9002", Behaviour::Slow(Duration::from_millis(200)), "timed out"),
        ("chk_flood", "127.0.0.1:9003", Behaviour::Flood, "not an HTTP answer"),
        ("chk_reset", "127.0.0.1:9004", Behaviour::Reset, "connection reset"),
    ];
    let mut probes = String::new();
    let mut names = String::new();
    let mut held = Vec::new();
    for (name, addr, how, _) in listeners {
        held.push(Listener::start(&ns, addr, how));
        probes.push_str(&format!(
            "vrrp_probe {name} {{\n    http http://{addr}/\n    interval 0.05\n    timeout 0.05\n    fall 2\n    \
             weight -10\n}}\n"
        ));
        names.push_str(&format!("        {name}\n"));
    }
    start_pair(&mut lab, &probes, &names);
    for (name, _, _, result) in listeners {
        lab.eventually(&format!("{name} down with {result:?}"), lab::TIMEOUT, |l| {
            let row = track_row(l, name);
            row.contains(" down ") && row.contains(result)
        });
    }
    let period = Duration::from_secs(4);
    let adverts = lab.capture_adverts(R1, period);
    let gap = lab::max_gap(&adverts);
    let runs: Vec<usize> = held.iter().map(|l| l.accepted.load(Ordering::Relaxed)).collect();
    eprintln!(
        "hostile_services: largest advert gap {gap:?} over {period:?} ({} adverts; connections accepted {runs:?})",
        adverts.len()
    );
    assert!(adverts.len() >= 35, "{} adverts in {period:?}\n{}", adverts.len(), lab.status());
    assert!(adverts.iter().all(|a| a.priority == 110), "priority 150 - 4 × 10 throughout");
    assert!(gap <= Duration::from_millis(150), "largest advert gap {gap:?}\n{}", lab.status());
    for (k, n) in runs.iter().enumerate() {
        // Every 50 ms (the slow ones every 50 ms too: the run ends at its
        // timeout) since start: far more than `fall`.
        assert!(*n >= 40, "{}: only {n} connections", listeners[k].0);
    }
    lab.stays("R1 master", Duration::from_millis(300), |l| l.holds_vip(R1) && !l.holds_vip(R2));
}
