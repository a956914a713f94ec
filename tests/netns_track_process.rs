//! Real-network tests of `vrrp_track_process` in the lab of
//! `tests/netns/lab.rs`: a tracked process (a copy of `sleep` under a name
//! of its own) is killed and started again, and the address must follow.
//! They need root; otherwise each prints why it skips and passes.
//!
//! R1 (priority 150) tracks the process with weight -60, so without it R1
//! advertises 90 and R2 (100, keepalived or vipd) takes over. Adverts are
//! VRRPv3 every 100 ms.
//!
//! keepalived 2.2.7 is the reference for the semantics, but it cannot
//! track processes inside a network namespace: the kernel's process
//! connector exists only in the initial one, and keepalived then logs
//! `Failed to set/clear process event listen - errno 111` and never sees
//! the process (quorum never achieved). `same_config_under_keepalived`
//! records that difference; vipd opens the connector in the initial
//! namespace and tracks as keepalived does outside namespaces.
//!
//! `cargo test --test netns_track_process -- --nocapture` prints the time
//! from the process's exit to the address on the peer.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

#[path = "common/json.rs"]
#[allow(dead_code)]
mod json;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use json::Json;
use lab::Kind::{Keepalived as KA, Vipd as VIPD};
use lab::Router::{R1, R2};
use lab::{Kind, Lab, Router, Vrrp};

const VIPD_BIN: &str = env!("CARGO_BIN_EXE_vipd");
const SLACK: Duration = Duration::from_millis(500);
const SETTLE: Duration = Duration::from_millis(500);

/// A copy of `sleep` with a distinctive name (at most 15 bytes, so it is
/// the whole process name).
fn tracked_binary(lab: &Lab, tag: &str) -> (PathBuf, String) {
    let name = format!("vtp{tag}{}", std::process::id() % 100_000);
    let path = lab.dir().join(&name);
    fs::copy("/bin/sleep", &path).expect("copy sleep");
    (path, name)
}

fn start(path: &Path, args: &[&str]) -> Child {
    // ETXTBSY: a test running in parallel forked while the copy was still
    // open for writing; its child closes it on exec.
    for _ in 0..100 {
        match Command::new(path).args(args).stdin(Stdio::null()).spawn() {
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(Duration::from_millis(10)),
            r => return r.expect("start the tracked process"),
        }
    }
    panic!("{}: text file busy for 1 s", path.display());
}

fn stop(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

fn config(lab: &Lab, priority: u8, tracker: &str) -> String {
    let uses = if tracker.is_empty() { "" } else { "    track_process {\n        tp\n    }\n" };
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\n\n{tracker}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n{uses}    virtual_ipaddress {{\n        {}/24\n    }}\n}}\n",
        lab.vip()
    )
}

fn status_json(lab: &Lab, r: Router) -> Json {
    let out = Command::new(VIPD_BIN)
        .arg("status")
        .arg("--control")
        .arg(lab.control_path(r))
        .arg("--json")
        .output()
        .expect("run vipd status");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Json::parse(&text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}\n{}", lab.status()))
}

/// R1's effective priority, and its process tracker's status and count.
fn tracked(lab: &Lab) -> (f64, String, f64) {
    let doc = status_json(lab, R1);
    let inst = doc.get("instances").at(0);
    let t = doc.get("trackers").at(0);
    assert_eq!(t.get("type").str(), Some("process"), "{doc:?}");
    (
        inst.get("effective_priority").num().unwrap_or(-1.0),
        t.get("status").str().unwrap_or("").to_owned(),
        t.get("processes").num().unwrap_or(-1.0),
    )
}

fn wait_tracked(lab: &Lab, want: (f64, &str, f64)) {
    let deadline = Instant::now() + lab::TIMEOUT;
    loop {
        let got = tracked(lab);
        if (got.0, got.1.as_str(), got.2) == want {
            return;
        }
        assert!(Instant::now() < deadline, "R1 is {got:?}, not {want:?}\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls every 2 ms until `r` holds the VIP; the time it took.
fn time_until_vip(lab: &Lab, r: Router, since: Instant, bound: Duration) -> Duration {
    loop {
        if lab.holds_vip(r) {
            return since.elapsed();
        }
        assert!(since.elapsed() < bound, "{r:?} does not hold the VIP after {bound:?}\n{}", lab.status());
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn takeover(priority: u8) -> Duration {
    Vrrp { priority, ..Vrrp::V3 }.master_down()
}

/// Kill → the peer takes the address; start again → R1 preempts it back.
/// R1's priority and tracker state come from `vipd status --json`.
fn kill_and_restart(peer: Kind, tracker: &str, args: &[&str], tag: &str) {
    let Some(mut lab) = Lab::new(&format!("tp{tag}"), 61) else { return };
    let (path, name) = tracked_binary(&lab, tag);
    let tracker = tracker.replace("NAME", &name).replace("PATH", &path.display().to_string());
    let mut argv: Vec<&str> = vec!["300"];
    argv.extend_from_slice(args);
    let proc1 = start(&path, &argv);
    let conf1 = config(&lab, 150, &tracker);
    let conf2 = config(&lab, 100, "");
    let r1 = lab.start_conf(R1, VIPD, &conf1, &[]);
    let r2 = lab.start_conf(R2, peer, &conf2, &[]);
    lab.wait_for(r1, "Entering MASTER STATE");
    lab.converges_on(R1, SETTLE);
    wait_tracked(&lab, (150.0, "up", 1.0));

    let killed = Instant::now();
    stop(proc1);
    let moved = time_until_vip(&lab, R2, killed, takeover(100) + SLACK);
    println!(
        "track_process ({tag}, peer {peer:?}): process killed -> VIP on the peer in {:.1} ms \
         (takeover {:.0} ms: 3 adverts + skew)",
        moved.as_secs_f64() * 1e3,
        takeover(100).as_secs_f64() * 1e3
    );
    wait_tracked(&lab, (90.0, "down", 0.0));
    lab.converges_on(R2, SETTLE);
    if peer == KA {
        lab.wait_for(r2, "Entering MASTER STATE");
    }

    let proc2 = start(&path, &argv);
    let started = Instant::now();
    let back = time_until_vip(&lab, R1, started, takeover(150) + SLACK);
    println!("track_process ({tag}): process started -> VIP back on R1 in {:.1} ms", back.as_secs_f64() * 1e3);
    wait_tracked(&lab, (150.0, "up", 1.0));
    lab.converges_on(R1, SETTLE);
    stop(proc2);
}

#[test]
fn process_exit_moves_the_vip_to_keepalived() {
    kill_and_restart(KA, "vrrp_track_process tp {\n    process NAME\n    weight -60\n}\n", &[], "ka");
}

#[test]
fn full_command_with_parameters_vipd_vipd() {
    // `process PATH 300` with param_match partial: the command line
    // `PATH 300 1` (sleep adds its arguments up) matches.
    kill_and_restart(
        VIPD,
        "vrrp_track_process tp {\n    process PATH 300\n    param_match partial\n    weight -60\n}\n",
        &["1"],
        "pm",
    );
}

/// A restart within `terminate_delay` never moves the address; a longer
/// outage does, once the delay has passed.
#[test]
fn terminate_delay_rides_out_a_restart() {
    let Some(mut lab) = Lab::new("tpdelay", 62) else { return };
    let (path, name) = tracked_binary(&lab, "dl");
    let tracker = format!("vrrp_track_process tp {{\n    process {name}\n    weight -60\n    terminate_delay 1\n}}\n");
    let p = start(&path, &["300"]);
    let r1 = lab.start_conf(R1, VIPD, &config(&lab, 150, &tracker), &[]);
    lab.start_conf(R2, VIPD, &config(&lab, 100, ""), &[]);
    lab.wait_for(r1, "Entering MASTER STATE");
    lab.converges_on(R1, SETTLE);
    stop(p);
    std::thread::sleep(Duration::from_millis(300));
    let p = start(&path, &["300"]);
    wait_tracked(&lab, (150.0, "up", 1.0));
    lab.stays("on R1 through a restart within terminate_delay", Duration::from_secs(2), |l| {
        l.holds_vip(R1) && !l.holds_vip(R2)
    });
    let killed = Instant::now();
    stop(p);
    let moved = time_until_vip(&lab, R2, killed, Duration::from_secs(1) + takeover(100) + SLACK);
    assert!(moved >= Duration::from_secs(1), "moved after {moved:?}, before terminate_delay");
    println!(
        "track_process with terminate_delay 1: VIP on the peer {:.1} ms after the exit",
        moved.as_secs_f64() * 1e3
    );
}

/// The same configuration under keepalived 2.2.7 in R1's namespace: it
/// cannot subscribe to process events there, so its priority stays reduced
/// while the process runs and the vipd peer keeps the address; under vipd
/// R1 is master (the other tests).
#[test]
fn same_config_under_keepalived() {
    if lab::keepalived_only() {
        println!("skipped: compares keepalived with vipd");
        return;
    }
    let Some(mut lab) = Lab::new("tpsame", 63) else { return };
    let (path, name) = tracked_binary(&lab, "kc");
    let tracker = format!("vrrp_track_process tp {{\n    process {name}\n    weight -60\n}}\n");
    let p = start(&path, &["300"]);
    let r1 = lab.start_conf(R1, KA, &config(&lab, 150, &tracker), &[]);
    let r2 = lab.start_conf(R2, VIPD, &config(&lab, 100, ""), &[]);
    let why = lab.wait_for(r1, "process event listen");
    println!("keepalived in a network namespace: {why}");
    lab.wait_for(r2, "Entering MASTER STATE");
    lab.stays("on the vipd peer while keepalived misses the process", Duration::from_secs(2), |l| {
        l.holds_vip(R2) && !l.holds_vip(R1)
    });
    stop(p);
}
