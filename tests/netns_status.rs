//! `vipd status` against the real thing (issue 11): a pair on the
//! namespace lab, vipd against vipd and against keepalived, asked through
//! the control socket for the table, JSON and Prometheus text; receive-error
//! counters rising when crafted bad packets arrive; the refusals and exit
//! codes; `--metrics` scraped by a real Prometheus server. They need root;
//! otherwise each prints why it skips and passes.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "netns/inject.rs"]
#[allow(dead_code)]
mod inject;

#[path = "common/json.rs"]
#[allow(dead_code)]
mod json;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use json::Json;
use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Lab, Router, Vrrp};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");
const HIGH: Vrrp = Vrrp { priority: 150, master: true, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, ..Vrrp::V3 };

/// `vipd status ARGS --control <r's socket>`: exit code, stdout, stderr.
fn status(lab: &Lab, r: Router, args: &[&str]) -> (i32, String, String) {
    status_at(&lab.control_path(r), args)
}

fn status_at(path: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(VIPD_BIN).arg("status").arg("--control").arg(path).args(args).output().expect("run vipd");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status_json(lab: &Lab, r: Router) -> Json {
    let (code, out, err) = status(lab, r, &["--json"]);
    assert_eq!(code, 0, "vipd status --json: {err}\n{}", lab.status());
    Json::parse(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

fn instance(doc: &Json) -> &Json {
    let inst = doc.get("instances").at(0);
    assert_eq!(inst.get("name").str(), Some("VI_1"), "{doc:?}");
    inst
}

fn counter(doc: &Json, key: &str) -> f64 {
    instance(doc).get("counters").get(key).num().unwrap_or_else(|| panic!("no counter {key} in {doc:?}"))
}

/// A pair: `master_kind` on R1 (150), `backup_kind` on R2 (100), VRRPv3
/// at 100 ms, converged on R1.
fn pair(test: &str, net: u8, master_kind: lab::Kind, backup_kind: lab::Kind) -> Option<Lab> {
    let mut lab = Lab::new(test, net)?;
    let a = lab.start(R1, master_kind, &HIGH);
    lab.wait_for(a, "Entering MASTER STATE");
    let b = lab.start(R2, backup_kind, &LOW);
    lab.wait_for(b, "Entering BACKUP STATE");
    lab.converges_on(R1, Duration::from_millis(500));
    Some(lab)
}

fn check_master(lab: &Lab, doc: &Json) {
    assert_eq!(doc.get("schema").num(), Some(1.0));
    let i = instance(doc);
    assert_eq!(i.get("state").str(), Some("MASTER"), "{i:?}");
    assert_eq!(i.get("priority").num(), Some(150.0));
    assert_eq!(i.get("effective_priority").num(), Some(150.0));
    assert_eq!(i.get("vrid").num(), Some(51.0));
    assert_eq!(i.get("family").str(), Some("inet"));
    assert_eq!(i.get("vrrp_version").num(), Some(3.0));
    assert_eq!(i.get("master").get("is_self").bool(), Some(true), "{i:?}");
    assert_eq!(i.get("master").get("address").str(), Some(lab.addr(R1).as_str()));
    assert_eq!(i.get("vips_held").bool(), Some(true), "{i:?}");
    assert!(counter(doc, "adverts_sent") > 0.0);
}

fn check_backup(lab: &Lab, doc: &Json) {
    let i = instance(doc);
    assert_eq!(i.get("state").str(), Some("BACKUP"), "{i:?}");
    assert_eq!(i.get("priority").num(), Some(100.0));
    let m = i.get("master");
    assert_eq!(m.get("address").str(), Some(lab.addr(R1).as_str()), "{i:?}");
    assert_eq!(m.get("priority").num(), Some(150.0));
    assert_eq!(m.get("advert_int_ms").num(), Some(100.0));
    assert!(m.get("last_seen_ms").num().is_some_and(|ms| ms < 1000.0), "{m:?}");
    assert_eq!(i.get("vips_held").bool(), Some(false));
    assert!(counter(doc, "adverts_received") > 0.0);
}

/// vipd on both routers: each reports its own side and the master.
#[test]
fn status_reports_master_and_backup_vipd_vipd() {
    let Some(lab) = pair("st-vv", 151, VIPD, VIPD) else { return };
    check_master(&lab, &status_json(&lab, R1));
    check_backup(&lab, &status_json(&lab, R2));
    let (code, text, err) = status(&lab, R1, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("VI_1") && text.contains("MASTER"), "the table:\n{text}");
    let (code, text, _) = status(&lab, R2, &["VI_1"]);
    assert_eq!(code, 0);
    assert!(text.contains("BACKUP") && text.contains(&lab.addr(R1)), "the table names the master:\n{text}");
}

/// vipd as backup of keepalived, and as master over keepalived.
#[test]
fn status_reports_the_keepalived_peer() {
    let Some(lab) = pair("st-kv", 152, KA, VIPD) else { return };
    check_backup(&lab, &status_json(&lab, R2));
    drop(lab);
    let Some(lab) = pair("st-vk", 153, VIPD, KA) else { return };
    check_master(&lab, &status_json(&lab, R1));
}

/// Crafted bad adverts from the client raise the matching receive-error
/// counters in JSON and in the Prometheus text.
#[test]
fn receive_errors_are_counted() {
    let Some(lab) = pair("st-err", 154, VIPD, VIPD) else { return };
    let before = status_json(&lab, R2);
    let group = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
    let vip = IpAddr::V4(lab.vip().parse().expect("VIP"));
    let client = IpAddr::V4(lab.host_addr(10).parse().expect("client"));
    let good = inject::Spec {
        version: 3,
        vrid: 51,
        priority: 50,
        interval: 10,
        addrs: vec![vip],
        src: client,
        dst: group,
        ttl: 255,
    };
    let mac = inject::multicast_mac(group);
    // TTL 1 on multicast, a wrong address list, a broken checksum.
    let ttl = inject::advert(&inject::Spec { ttl: 1, ..good.clone() }, mac);
    let list = inject::advert(&inject::Spec { addrs: vec![client], ..good.clone() }, mac);
    let mut sum = inject::advert(&good, mac);
    let last = sum.bytes.len() - 1;
    sum.bytes[last] ^= 0xff;
    let sent = inject::send_all(lab.ns_path("c"), "eth0", vec![ttl.clone(), ttl, list.clone(), list, sum]);
    assert_eq!(sent, 5);
    let deadline = Instant::now() + Duration::from_secs(5);
    let grew = |key: &str, by: f64| {
        let mut now;
        loop {
            now = status_json(&lab, R2);
            if counter(&now, key) >= counter(&before, key) + by || Instant::now() > deadline {
                return counter(&now, key) - counter(&before, key);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    assert_eq!(grew("ttl_errors", 2.0), 2.0);
    assert_eq!(grew("address_list_errors", 2.0), 2.0);
    assert_eq!(grew("checksum_errors", 1.0), 1.0);
    let (code, prom, err) = status(&lab, R2, &["--prometheus"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        prom.lines().any(|l| l.starts_with("keepalived_vrrp_state{") && l.ends_with(" 1")),
        "backup state:\n{prom}"
    );
    promtool(&prom);
}

/// `promtool check metrics` on exposition text (scripts/test installs
/// Debian's prometheus package, which has it).
fn promtool(text: &str) {
    if let Some((ok, out, err)) = lab::testkit::pipe_through("promtool", &["check", "metrics"], text) {
        assert!(ok, "promtool check metrics: {out}{err}");
    }
}

/// No daemon: one line, exit 3. Unknown instance or both formats: exit 1.
#[test]
fn a_daemon_in_its_own_pid_namespace_answers() {
    // vipd as process 1 of a PID namespace (a container), asked from
    // outside: the kernel gives its peer's pid as 0, which must not fail
    // the connection.
    let Some(mut lab) = Lab::new("st-pidns", 157) else { return };
    let conf = lab.config(R1, &HIGH);
    let d = lab.start_vipd_wrapped(R1, &conf, &["unshare", "--pid", "--fork", "--kill-child"]);
    lab.wait_for(d, "Entering MASTER STATE");
    let sock = lab.dir().join("run").join("r1.sock");
    let (code, out, err) = status_at(&sock, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let doc = Json::parse(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
    assert_eq!(instance(&doc).get("state").str(), Some("MASTER"));
}

#[test]
fn refusals_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("vipd-status-none-{}", std::process::id()));
    let (code, out, err) = status_at(&dir.join("nothing.sock"), &[]);
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("no daemon answers"), "{err}");
    let Some(lab) = pair("st-ref", 155, VIPD, VIPD) else { return };
    let (code, _, err) = status(&lab, R1, &["VI_NOPE"]);
    assert_eq!(code, 1);
    assert!(err.contains("VI_NOPE"), "{err}");
    let (code, _, _) = status(&lab, R1, &["--json", "--prometheus"]);
    assert_eq!(code, 1);
}

/// An HTTP GET from inside namespace `ns` (a thread of its own enters it):
/// the status code and body.
fn http_get(ns: &Path, addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let (ns, addr, path) = (ns.to_path_buf(), addr.to_owned(), path.to_owned());
    std::thread::spawn(move || {
        lab::testkit::enter_path(&ns).ok()?;
        let mut s = std::net::TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let code = text.split(' ').nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Some((code, body))
    })
    .join()
    .ok()
    .flatten()
}

/// `--metrics`: vipd serves /metrics in R1's namespace; a real Prometheus
/// server on the client scrapes it, and its query API gives
/// `keepalived_vrrp_state` back: 2 (MASTER) for R1's VI_1.
#[test]
fn prometheus_scrapes_metrics() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        lab::testkit::skip("prometheus is not installed (apt-get install prometheus)");
        return;
    }
    let Some(mut lab) = Lab::new("st-prom", 156) else { return };
    let target = format!("{}:9650", lab.addr(R1));
    let conf = lab.config(R1, &HIGH);
    let a = lab.start_conf(R1, VIPD, &conf, &["--metrics", &target]);
    lab.wait_for(a, "Entering MASTER STATE");
    // The endpoint itself: 200 with exposition text, 404 elsewhere.
    let (code, body) = http_get(&lab.ns_path("c"), &target, "/metrics").expect("GET /metrics");
    assert_eq!(code, 200);
    assert!(body.contains("keepalived_vrrp_state{"), "{body}");
    assert_eq!(http_get(&lab.ns_path("c"), &target, "/nope").map(|r| r.0), Some(404));

    let dir = lab.dir().to_path_buf();
    let prom_conf = dir.join("prometheus.yml");
    std::fs::write(
        &prom_conf,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vipd\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .expect("write prometheus.yml");
    let ns_c = lab.ns_path("c").file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let storage = format!("--storage.tsdb.path={}", dir.join("prom").display());
    let config = format!("--config.file={}", prom_conf.display());
    let _prom = lab.start_helper(
        "prometheus.log",
        &["ip", "netns", "exec", &ns_c, "prometheus", &config, &storage, "--web.listen-address=127.0.0.1:9090"],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let query = "/api/v1/query?query=keepalived_vrrp_state";
    loop {
        if let Some((200, body)) = http_get(&lab.ns_path("c"), "127.0.0.1:9090", query) {
            let doc = Json::parse(&body).unwrap_or_else(|e| panic!("query API answered non-JSON ({e}): {body}"));
            if let Some(r) = doc.get("data").get("result").arr().first() {
                assert_eq!(r.get("metric").get("iname").str(), Some("VI_1"), "{body}");
                assert_eq!(r.get("value").at(1).str(), Some("2"), "R1 is MASTER: {body}");
                break;
            }
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped vipd\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Hostile clients: silent ones are dropped after the 2 s bound, the 17th
/// at once is told the daemon is busy, garbage and oversized requests get
/// an error, and a proper request is answered once the silent ones are
/// gone. The master's adverts keep going meanwhile.
#[test]
fn hostile_clients_are_bounded() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let Some(lab) = pair("st-host", 157, VIPD, VIPD) else { return };
    let path = lab.control_path(R1);
    let read_all = |s: &mut UnixStream| {
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    // Sixteen silent clients fill the slots.
    let mut silent: Vec<UnixStream> = (0..16).map(|_| UnixStream::connect(&path).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = UnixStream::connect(&path).expect("connect");
    assert!(read_all(&mut extra).starts_with("error: busy"), "the 17th client is told");
    // The silent ones are dropped at the bound.
    let t0 = Instant::now();
    for s in &mut silent {
        let out = read_all(s);
        assert!(out.is_empty(), "a silent client got {out:?}");
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(4), "silent clients held for {took:?}");
    let mut garbage = UnixStream::connect(&path).expect("connect");
    garbage.write_all(b"GIVE ME EVERYTHING\n").expect("write");
    assert!(read_all(&mut garbage).starts_with("error: unknown request"));
    let mut huge = UnixStream::connect(&path).expect("connect");
    let _ = huge.write_all(&[b'x'; 600]);
    assert!(read_all(&mut huge).starts_with("error: request too long"));
    check_master(&lab, &status_json(&lab, R1));
    // And R1 stayed master throughout.
    assert!(lab.holds_vip(R1) && !lab.holds_vip(R2), "{}", lab.status());
}
