//! Real-network tests of the e-mail alerts (`smtp_alert`) in the lab of
//! `tests/netns/lab.rs`: a real SMTP server (aiosmtpd, Debian's
//! `python3-aiosmtpd`, which scripts/test installs, with the handler in
//! `tests/netns/smtp_sink.py` storing each message) on the client host C,
//! vipd and keepalived on the routers. Checked: vipd's mails are
//! keepalived's byte for byte but for the Date (same HELO, envelope,
//! headers, subject, body), one per state entered; a server that accepts
//! the connection and never answers does not delay an advert, and each
//! failed delivery is logged once; a refused connection too. Root only;
//! otherwise each test prints why it skips.
//!
//! `cargo test --test netns_smtp -- --nocapture` prints the advert gap.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lab::Kind::{Keepalived as KEEPALIVED, Vipd as VIPD};
use lab::Lab;
use lab::Router::{R1, R2};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");
const PYTHON: &str = "/usr/bin/python3";
const PORT: u16 = 2525;

/// Whether aiosmtpd can run; prints why not.
fn have_aiosmtpd() -> bool {
    let ok = Command::new(PYTHON).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        lab::testkit::skip("python3-aiosmtpd is not installed (scripts/test installs it)");
    }
    ok
}

/// Starts aiosmtpd on C, storing mail in `<dir>/mail`; returns that dir
/// once the server listens.
fn start_sink(lab: &mut Lab) -> PathBuf {
    let mail = lab.dir().join("mail");
    std::fs::create_dir_all(&mail).expect("mail dir");
    let ns = ns_name(lab, "c");
    let listen = format!("{}:{PORT}", lab.host_addr(10));
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/netns");
    let py = format!("PYTHONPATH={}", here.display());
    let m = mail.display().to_string();
    let argv = [
        "env",
        &py,
        "ip",
        "netns",
        "exec",
        &ns,
        PYTHON,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        &listen,
        "-c",
        "smtp_sink.Store",
        &m,
    ];
    lab.start_helper("aiosmtpd.log", &argv);
    lab.eventually("aiosmtpd listening", lab::TIMEOUT, |l| {
        let out = l.ip(&["netns", "exec", &ns, "ss", "-ltnH"]);
        out.contains(&format!(":{PORT} "))
    });
    mail
}

fn ns_name(lab: &Lab, host: &str) -> String {
    let p = lab.ns_path(host);
    p.file_name().expect("ns name").to_string_lossy().into_owned()
}

/// The messages stored so far, in arrival order.
fn mails(dir: &Path) -> Vec<String> {
    let mut v: Vec<(u32, String)> = std::fs::read_dir(dir)
        .expect("mail dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().into_owned();
            let n = name.strip_suffix(".eml")?.parse().ok()?;
            Some((n, std::fs::read_to_string(dir.join(&name)).ok()?))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, m)| m).collect()
}

/// Waits until a mail from `peer` whose subject ends with `state` arrived.
fn wait_mail(lab: &Lab, dir: &Path, peer: &str, state: &str) -> String {
    let deadline = Instant::now() + lab::TIMEOUT;
    loop {
        let found = mails(dir).into_iter().find(|m| from_peer(m, peer) && subject(m).ends_with(state));
        if let Some(m) = found {
            return m;
        }
        assert!(Instant::now() < deadline, "no {state} mail from {peer}: {:#?}\n{}", mails(dir), lab.status());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn from_peer(m: &str, peer: &str) -> bool {
    m.starts_with(&format!("PEER {peer}\n"))
}

fn subject(m: &str) -> &str {
    m.lines().find_map(|l| l.strip_prefix("Subject: ")).map_or("", str::trim_end)
}

/// The mail without its PEER line and Date header: what must be equal.
fn comparable(m: &str) -> String {
    m.split_inclusive('\n').filter(|l| !l.starts_with("PEER ") && !l.starts_with("Date: ")).collect()
}

fn config(lab: &Lab, server: &str, priority: u8, advert: &str, timeout: u32) -> String {
    format!(
        "global_defs {{\n    router_id lab\n    notification_email {{\n        ops@example.org\n        noc@example.org\n    }}\n    \
         notification_email_from vrrp@example.org\n    smtp_server {server}\n    smtp_connect_timeout {timeout}\n    \
         vrrp_version 3\n}}\n\nvrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int {advert}\n    smtp_alert\n    virtual_ipaddress {{\n        {}/24\n    }}\n}}\n",
        lab.vip()
    )
}

#[test]
fn mails_like_keepalived() {
    if !have_aiosmtpd() {
        return;
    }
    let Some(mut lab) = Lab::new("smtp-mails", 211) else { return };
    let dir = start_sink(&mut lab);
    let server = format!("{} {PORT}", lab.host_addr(10));
    let (r1, r2) = (lab.addr(R1), lab.addr(R2));
    let a = lab.start_conf(R1, VIPD, &config(&lab, &server, 150, "0.1", 5), &["-D"]);
    lab.start_conf(R2, KEEPALIVED, &config(&lab, &server, 100, "0.1", 5), &[]);
    lab.converges_on(R1, Duration::from_millis(500));
    let vipd_backup = wait_mail(&lab, &dir, &r1, "Entering BACKUP state");
    let vipd_master = wait_mail(&lab, &dir, &r1, "Entering MASTER state");
    let ka_backup = wait_mail(&lab, &dir, &r2, "Entering BACKUP state");
    // vipd stops: keepalived takes over and mails MASTER; vipd mails no STOP.
    lab.term(a);
    let ka_master = wait_mail(&lab, &dir, &r2, "Entering MASTER state");
    std::thread::sleep(Duration::from_millis(500));

    for (v, k) in [(&vipd_backup, &ka_backup), (&vipd_master, &ka_master)] {
        assert_eq!(comparable(v), comparable(k), "vipd:\n{v}\nkeepalived:\n{k}");
    }
    let all = mails(&dir);
    let from_vipd: Vec<&str> = all.iter().filter(|m| from_peer(m, &r1)).map(|m| subject(m)).collect();
    assert_eq!(
        from_vipd,
        ["[lab] VRRP Instance VI_1 - Entering BACKUP state", "[lab] VRRP Instance VI_1 - Entering MASTER state"]
    );
    // The parts keepalived also checks itself, spelled out.
    assert!(vipd_master.contains("\nMAIL FROM vrrp@example.org\nRCPT TO ops@example.org\nRCPT TO noc@example.org\n"));
    assert!(vipd_master.contains("\r\nFrom: vrrp@example.org\r\n"), "{vipd_master}");
    assert!(vipd_master.contains("\r\nX-Mailer: Keepalived\r\nTo: ops@example.org, noc@example.org\r\n\r\n"));
    assert!(vipd_master.ends_with("\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n"), "{vipd_master:?}");
    assert!(vipd_backup.contains("=> VRRP Instance is no longer owning VRRP VIPs <=\r\n"));
    let date = vipd_master.lines().find_map(|l| l.strip_prefix("Date: ")).expect("Date header");
    // "Sun, 06 Dec 2026 02:54:32 +0000", as keepalived's strftime.
    assert_eq!(date.trim_end().len(), 31, "{date}");
    assert!(lab.log(a).contains("SMTP alert successfully sent"), "{}", lab.log(a));
}

/// Listens on `addr` in `ns` and never accepts: the kernel completes the
/// handshake, nobody answers. Returns the listener's thread's stop flag.
fn stall(lab: &Lab, addr: String) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::os::fd::AsRawFd;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let ns = lab.ns_path("c");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&ns).expect("ns");
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns");
        let l = std::net::TcpListener::bind(&addr).expect("bind");
        let _ = tx.send(());
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(l);
    });
    rx.recv_timeout(lab::TIMEOUT).expect("stall listener");
    stop
}

fn smtp_counts(lab: &Lab) -> String {
    let out = Command::new(VIPD_BIN)
        .args(["status", "--json", "--control"])
        .arg(lab.control_path(R1))
        .output()
        .expect("status");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = s.find("\"smtp_alerts\"").unwrap_or_else(|| panic!("no smtp_alerts in {s}"));
    s[at..at + s[at..].find('}').expect("}") + 1].to_owned()
}

#[test]
fn a_stalled_server_delays_no_advert() {
    let Some(mut lab) = Lab::new("smtp-stall", 212) else { return };
    let addr = format!("{}:{}", lab.host_addr(10), PORT + 1);
    let stop = stall(&lab, addr.clone());
    let server = format!("{} {}", lab.host_addr(10), PORT + 1);
    // 10 ms adverts; each mail hangs 2 s on the greeting.
    let a = lab.start_conf(R1, VIPD, &config(&lab, &server, 150, "0.01", 2), &[]);
    lab.eventually("R1 master", lab::TIMEOUT, |l| l.holds_vip(R1));
    // BACKUP's alert is stalling now, MASTER's waits behind it: 4 s of a
    // stuck server while the master advertises.
    let adverts = lab.capture_adverts(R1, Duration::from_secs(3));
    let gap = lab::max_gap(&adverts);
    println!("stalled SMTP server: largest advert gap {gap:?} over 3 s ({} adverts)", adverts.len());
    assert!(adverts.len() > 100, "{} adverts", adverts.len());
    // Blocking on the server would show as a 2 s gap; a loaded machine
    // (shared CI cores) may add tens of ms.
    assert!(gap < Duration::from_millis(200), "largest advert gap {gap:?}\n{}", lab.status());
    lab.eventually("both deliveries failed", lab::TIMEOUT, |l| smtp_counts(l).contains("\"failed\":2"));
    let log = lab.log(a);
    let failed: Vec<&str> = log.lines().filter(|l| l.contains("SMTP alert to")).collect();
    assert_eq!(failed.len(), 2, "{log}");
    let want = format!(
        "SMTP alert to {addr} failed: timeout waiting for the reply to the greeting ([lab] VRRP Instance VI_1 - Entering BACKUP state)"
    );
    assert!(failed[0].ends_with(&want), "{}", failed[0]);
    assert!(failed[1].ends_with("Entering MASTER state)"), "{}", failed[1]);
    assert_eq!(smtp_counts(&lab), "\"smtp_alerts\":{\"sent\":0,\"failed\":2,\"dropped\":0}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn a_refused_connection_is_logged() {
    let Some(mut lab) = Lab::new("smtp-refused", 213) else { return };
    // Nothing listens there: C answers with a reset.
    let server = format!("{} {}", lab.host_addr(10), PORT + 2);
    let a = lab.start_conf(R1, VIPD, &config(&lab, &server, 150, "0.1", 2), &[]);
    lab.eventually("R1 master", lab::TIMEOUT, |l| l.holds_vip(R1));
    lab.eventually("both deliveries failed", lab::TIMEOUT, |l| smtp_counts(l).contains("\"failed\":2"));
    let log = lab.log(a);
    let failed: Vec<&str> = log.lines().filter(|l| l.contains("SMTP alert to")).collect();
    assert_eq!(failed.len(), 2, "{log}");
    assert!(failed.iter().all(|l| l.contains(" failed: ")), "{failed:?}");
}
