//! Real-network test of keepalived's signal files: vipd and keepalived 2.2.7
//! run the same VRRP instance on the two routers of the lab
//! (`tests/netns/lab.rs`), each is sent SIGUSR1 and SIGUSR2 through its pid
//! file as keepalived-exporter sends them, and the `keepalived.data` and
//! `keepalived.stats` they write are compared: in the same role (master,
//! then backup, the roles swapped half way) the instance blocks hold the
//! same keys in the same order, the stats the same sections and counters,
//! and what keepalived-exporter reads (State, Wantstate, Interface, Virtual
//! Router ID, Gratuitous ARP delay, the Virtual IP lines, every counter)
//! parses the same. vipd writes into the directory given with
//! `--dump-dir`, keepalived into its `TMPDIR`, so nothing lands in the
//! host's `/tmp`. vipd must keep running and keep its role through a burst
//! of signals, and must replace a symlink planted at its data file rather
//! than write through it.
//!
//! Needs root (else it prints why it skips and passes). Run it with
//! `cargo test --test netns_dumps -- --nocapture`; `VIPD_NETNS_KEEP=1`
//! keeps the files in `$TMPDIR/vipd-netns-<pid>-dumps/`.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Daemon, Kind, Lab, Router, Vrrp};

const INIT: &str = "Entering BACKUP STATE (init)";
const MASTER: &str = "Entering MASTER STATE";

/// One instance of a data file: its `key = value` / `key: value` lines in
/// order (a key may repeat), and the list lines under each key.
#[derive(Debug, Default)]
struct Block {
    keys: Vec<String>,
    values: BTreeMap<String, Vec<String>>,
}

/// The ` VRRP Instance = NAME` blocks of a data file (what follows, up to
/// the next instance or section, in keepalived's three- and five-space
/// indentation).
fn parse_data(text: &str) -> BTreeMap<String, Block> {
    let mut out: BTreeMap<String, Block> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut key = String::new();
    for l in text.lines() {
        if let Some(name) = l.strip_prefix(" VRRP Instance = ") {
            current = Some(name.trim().to_owned());
            out.entry(name.trim().to_owned()).or_default();
            continue;
        }
        let Some(name) = &current else { continue };
        if !l.starts_with("   ") {
            current = None;
            continue;
        }
        let b = out.entry(name.clone()).or_default();
        if l.starts_with("     ") {
            b.values.entry(key.clone()).or_default().push(l.trim().to_owned());
            continue;
        }
        // keepalived-exporter's rule: `=` if the line has one, else `:`.
        let t = l.trim();
        let Some((k, v)) = t.split_once('=').or_else(|| t.split_once(':')) else { continue };
        key = k.trim().to_owned();
        b.keys.push(key.clone());
        if !v.trim().is_empty() {
            b.values.entry(key.clone()).or_default().push(v.trim().to_owned());
        }
    }
    out
}

/// Per instance, its counters in order: `((section, key), value)`.
type Stats = BTreeMap<String, Vec<((String, String), i64)>>;

/// The stats file: per instance, `(section, key) -> value` in order, every
/// value an integer (keepalived-exporter fails on anything else).
fn parse_stats(text: &str) -> Stats {
    let mut out: Stats = BTreeMap::new();
    let (mut inst, mut section) = (String::new(), String::new());
    for l in text.lines() {
        if let Some(name) = l.strip_prefix("VRRP Instance:") {
            inst = name.trim().to_owned();
            out.entry(inst.clone()).or_default();
        } else if l.starts_with("  ") && l.ends_with(':') {
            section = l.trim().trim_end_matches(':').to_owned();
        } else if l.starts_with("  ") {
            if !l.starts_with("    ") {
                section.clear();
            }
            let (k, v) = l.trim().split_once(':').unwrap_or_else(|| panic!("stats line {l:?}"));
            let v: i64 = v.trim().parse().unwrap_or_else(|_| panic!("stats value {l:?}"));
            out.entry(inst.clone()).or_default().push(((section.clone(), k.trim().to_owned()), v));
        } else {
            panic!("stats line {l:?}");
        }
    }
    out
}

/// `kill -s SIG PID` with the pid from `pid_file`, as keepalived-exporter
/// signals the daemon.
fn signal(pid_file: &Path, sig: &str) {
    let pid = fs::read_to_string(pid_file).unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()));
    let ok =
        Command::new("kill").args(["-s", sig, pid.trim()]).stdin(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(ok, "kill -s {sig} {}", pid.trim());
}

/// The file once it has been written: keepalived writes in place, so it
/// counts once it is non-empty and has not changed for 200 ms.
fn wait_file(path: &Path) -> String {
    let deadline = Instant::now() + lab::TIMEOUT;
    let mut last = String::new();
    let mut since = Instant::now();
    loop {
        let now = fs::read_to_string(path).unwrap_or_default();
        if now != last {
            last = now;
            since = Instant::now();
        } else if !last.is_empty() && since.elapsed() >= Duration::from_millis(200) {
            return last;
        }
        assert!(Instant::now() < deadline, "{} was not written", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGUSR1 then SIGUSR2 to `kind` on `r`; its data and stats files from
/// `dir`.
fn dump(lab: &Lab, r: Router, kind: Kind, dir: &Path) -> (String, String) {
    let (data, stats) = (dir.join("keepalived.data"), dir.join("keepalived.stats"));
    let _ = fs::remove_file(&data);
    let _ = fs::remove_file(&stats);
    let pid = lab.pid_file(r, kind);
    signal(&pid, "USR1");
    let d = wait_file(&data);
    signal(&pid, "USR2");
    let s = wait_file(&stats);
    for f in [&data, &stats] {
        let mode = fs::metadata(f).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: keepalived writes its files 0600", f.display());
    }
    (d, s)
}

/// The one instance, VI_1, of a data file.
fn vi_1(data: &str, who: &str) -> Block {
    let mut blocks = parse_data(data);
    assert_eq!(blocks.len(), 1, "{who}: one instance expected\n{data}");
    blocks.remove("VI_1").unwrap_or_else(|| panic!("{who}: no VI_1\n{data}"))
}

/// Both daemons' files for the same role: the same keys in the same order,
/// the same stats counters, and the same values where the role decides
/// them.
fn same_layout(role: &str, vipd: &(String, String), ka: &(String, String), lab: &Lab) {
    let (v, k) = (vi_1(&vipd.0, "vipd"), vi_1(&ka.0, "keepalived"));
    println!("{role}: vipd's VI_1 has {} keys, keepalived's {}", v.keys.len(), k.keys.len());
    assert_eq!(v.keys, k.keys, "{role}: the keys differ\n--- vipd:\n{}\n--- keepalived:\n{}", vipd.0, ka.0);
    // What keepalived-exporter reads, and what the shared configuration
    // and the role fix.
    for key in [
        "State",
        "Wantstate",
        "Interface",
        "Gratuitous ARP delay",
        "Virtual Router ID",
        "VRRP Version",
        "Advert interval",
        "Preempt",
        "Down timer adverts",
    ] {
        assert_eq!(v.values.get(key), k.values.get(key), "{role}: {key}");
    }
    assert_eq!(v.values.get("State").map(|s| s[0].as_str()), Some(role), "{role}: State");
    assert_eq!(v.values["Interface"], ["eth0"]);
    assert_eq!(v.values["Virtual Router ID"], ["51"]);
    // keepalived-exporter's ParseVIP: address and interface.
    let vips = |b: &Block| -> Vec<(String, String)> {
        b.values["Virtual IP (1)"]
            .iter()
            .map(|l| {
                let w: Vec<&str> = l.split(' ').collect();
                assert!(w.len() >= 3 && w[1] == "dev", "VIP line {l:?}");
                (w[0].to_owned(), w[2].to_owned())
            })
            .collect()
    };
    assert_eq!(vips(&v), vips(&k), "{role}: VIPs");
    assert_eq!(vips(&v), [(format!("{}/24", lab.vip()), "eth0".to_owned())]);
    // keepalived writes `set` after an address it added.
    let set = |b: &Block| b.values["Virtual IP (1)"].iter().all(|l| l.ends_with(" set"));
    assert_eq!(set(&v), set(&k), "{role}: `set`");
    let (vs, ks) = (parse_stats(&vipd.1), parse_stats(&ka.1));
    let keys = |s: &Stats| -> Vec<(String, String)> { s["VI_1"].iter().map(|(k, _)| k.clone()).collect() };
    assert_eq!(keys(&vs), keys(&ks), "{role}: stats keys\n--- vipd:\n{}\n--- keepalived:\n{}", vipd.1, ka.1);
    assert_eq!(keys(&vs).len(), 14, "{role}: stats keys");
    let get = |s: &Stats, sec: &str, key: &str| -> i64 {
        s["VI_1"].iter().find(|((a, b), _)| a == sec && b == key).map_or(-1, |(_, v)| *v)
    };
    for s in [&vs, &ks] {
        if role == "MASTER" {
            assert!(get(s, "Advertisements", "Sent") > 0, "{role}: nothing sent\n{}", vipd.1);
            assert!(get(s, "", "Became master") >= 1, "{role}: never became master");
        } else {
            assert!(get(s, "Advertisements", "Received") > 0, "{role}: nothing received");
        }
        for (sec, key) in [("Packet Errors", "Length"), ("Authentication Errors", "Failure")] {
            assert_eq!(get(s, sec, key), 0, "{role}: {sec} {key}");
        }
    }
}

#[test]
fn signal_files_match_keepalived() {
    if lab::keepalived_only() {
        println!("skipping: vipd's --dump-dir has no keepalived equivalent (VIPD_NETNS_KEEPALIVED_ONLY)");
        return;
    }
    let Some(mut lab) = Lab::new("dumps", 137) else { return };
    let (vd, kd) = (lab.dir().join("vipd-dumps"), lab.dir().join("keepalived-dumps"));
    fs::create_dir_all(&vd).expect("vipd's directory");
    fs::create_dir_all(&kd).expect("keepalived's directory");
    let vd_arg = vd.to_str().expect("utf-8 path").to_owned();
    let high = Vrrp { priority: 150, master: true, ..Vrrp::V2 };
    let low = Vrrp { priority: 100, master: false, ..Vrrp::V2 };
    let lower = Vrrp { priority: 50, master: false, ..Vrrp::V2 };

    // vipd master on R1, keepalived backup on R2.
    let conf = lab.config(R1, &high);
    let v = lab.start_conf(R1, VIPD, &conf, &["--dump-dir", &vd_arg]);
    let conf = lab.config(R2, &low);
    let k = lab.start_conf_env(R2, KA, &conf, &[], &[("TMPDIR", &kd)]);
    lab.wait_for(v, MASTER);
    lab.wait_for(k, INIT);
    lab.converges_on(R1, Duration::from_secs(2));
    let vipd_master = dump(&lab, R1, VIPD, &vd);
    let ka_backup = dump(&lab, R2, KA, &kd);
    assert!(lab.is_running(v) && lab.holds_vip(R1), "vipd after the signals\n{}", lab.status());

    // The roles swapped: keepalived master on R2, vipd backup on R1.
    stop(&mut lab, v);
    lab.wait_for(k, MASTER);
    let conf = lab.config(R1, &lower);
    let v = lab.start_conf(R1, VIPD, &conf, &["--dump-dir", &vd_arg]);
    lab.wait_for(v, INIT);
    lab.converges_on(R2, Duration::from_secs(2));
    let vipd_backup = dump(&lab, R1, VIPD, &vd);
    let ka_master = dump(&lab, R2, KA, &kd);

    same_layout("MASTER", &vipd_master, &ka_master, &lab);
    same_layout("BACKUP", &vipd_backup, &ka_backup, &lab);
    let master_of = |d: &(String, String)| vi_1(&d.0, "backup").values.get("Master router").cloned();
    assert_eq!(master_of(&vipd_backup), Some(vec![lab.addr(R2)]), "vipd's master");
    assert_eq!(master_of(&ka_backup), Some(vec![lab.addr(R1)]), "keepalived's master");

    // A burst of signals (an exporter scraping hard) changes nothing: vipd
    // keeps running as BACKUP, no state change, R2 keeps the VIP.
    let changes = |lab: &Lab| lab.log(v).matches("Entering ").count();
    let before = changes(&lab);
    let pid = lab.pid_file(R1, VIPD);
    for n in 0..40 {
        signal(&pid, if n % 2 == 0 { "USR1" } else { "USR2" });
    }
    lab.stays("R2 alone holding the VIP", Duration::from_secs(2), |lab| lab.holds_vip(R2) && !lab.holds_vip(R1));
    assert!(lab.is_running(v), "vipd died of SIGUSR1/SIGUSR2\n{}", lab.status());
    assert_eq!(changes(&lab), before, "vipd changed state on SIGUSR1/SIGUSR2\n{}", lab.status());
    assert_eq!(lab.state(v).as_deref(), Some("BACKUP"));

    // A symlink planted at the data file is replaced, not written through.
    let victim = lab.dir().join("victim");
    fs::write(&victim, "precious").expect("victim");
    let data = vd.join("keepalived.data");
    let _ = fs::remove_file(&data);
    symlink(&victim, &data).expect("plant a symlink");
    signal(&pid, "USR1");
    let deadline = Instant::now() + lab::TIMEOUT;
    while fs::symlink_metadata(&data).is_ok_and(|m| m.file_type().is_symlink()) {
        assert!(Instant::now() < deadline, "vipd did not replace the symlink\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "precious", "vipd wrote through the symlink");
    assert!(fs::read_to_string(&data).expect("data").contains(" VRRP Instance = VI_1\n"));
    // Nothing but the two files in vipd's directory: no temporary left.
    let mut names: Vec<String> =
        fs::read_dir(&vd).expect("dir").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["keepalived.data", "keepalived.stats"]);

    stop(&mut lab, v);
    stop(&mut lab, k);
}

/// SIGTERM; vipd must exit 0.
fn stop(lab: &mut Lab, d: Daemon) {
    let code = lab.term(d);
    if d.kind == VIPD {
        assert_eq!(code, Some(0), "vipd's exit status after SIGTERM\n{}", lab.status());
    }
}
