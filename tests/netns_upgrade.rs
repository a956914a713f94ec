//! `vipd upgrade` (issue 14): the daemon re-executes its binary in place
//! and hands over its sockets and state, so upgrading never starts an
//! election. Real namespaces, VRRPv3 adverts every 10 ms, a client pinging
//! the VIP every 5 ms. 20 upgrades in a row, alternating two builds of this
//! tree that differ in their version (`VIPD_BUILD_TAG`), swapped in at the
//! daemon's path by rename as a package does: on the master (the backup
//! never enters MASTER, no ping is lost, the pid stays, the advert gap on
//! the wire stays small), then on the backup (it never takes over). A new
//! binary that fails (exits 1, or rejects the configuration) leaves the
//! old one running. Root only; otherwise each test prints why it skips.

#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::Kind::Vipd as VIPD_KIND;
use lab::Router::{R1, R2};
use lab::{Lab, Router, Vrrp};

const VIPD: &str = env!("CARGO_BIN_EXE_vipd");
const MASTER: &str = "Entering MASTER STATE";
const FAST: Duration = Duration::from_millis(10);
const HIGH: Vrrp = Vrrp { priority: 150, master: true, advert: FAST, ..Vrrp::V3 };
const LOW: Vrrp = Vrrp { priority: 100, master: false, advert: FAST, ..Vrrp::V3 };
const UPGRADES: usize = 20;
/// The functional bound on the advert gap across an upgrade: the issue
/// asks for two intervals, which `VIPD_BENCH_ONLY=upgrade scripts/bench`
/// measures; here, on a loaded 2-core machine running other tests, a
/// generous five.
const GAP_BOUND: Duration = Duration::from_millis(50);

/// This tree built again with `VIPD_BUILD_TAG=b` (its own target
/// directory, so the test's binary is left alone): the second build.
fn build_b() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/upgrade-b");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--bin", "vipd", "--target-dir"])
        .arg(&target)
        .env("VIPD_BUILD_TAG", "b")
        .current_dir(root)
        .output()
        .expect("run cargo");
    assert!(out.status.success(), "building the second binary: {}", String::from_utf8_lossy(&out.stderr));
    target.join("debug/vipd")
}

/// Puts `from` at `at` as a package manager does: a new file renamed over
/// the old one (the running image keeps the old inode).
fn install(from: &Path, at: &Path) {
    let tmp = at.with_extension("new");
    std::fs::copy(from, &tmp).expect("copy the binary");
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).expect("sync the binary");
    std::fs::rename(&tmp, at).expect("rename the binary into place");
}

/// [`install`] of a file already copied into the lab: a hard link renamed
/// over `at`. The 20 upgrades alternate two such files rather than write
/// 36 MB of debug binary before each, whose writeback then ran into the
/// `execve` (20-140 ms from snapshot to running, against 3-5 ms).
fn place(copied: &Path, at: &Path) {
    let tmp = at.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::fs::hard_link(copied, &tmp).expect("link the binary");
    std::fs::rename(&tmp, at).expect("rename the binary into place");
}

fn ns_name(lab: &Lab, r: Router) -> String {
    let host = if matches!(r, R1) { "r1" } else { "r2" };
    lab.ns_path(host).file_name().and_then(|n| n.to_str()).map(str::to_owned).expect("namespace name")
}

/// `vipd upgrade` for the daemon on `r`: exit code, stdout, stderr.
fn upgrade(lab: &Lab, r: Router) -> (Option<i32>, String, String) {
    let sock = control(lab, r);
    let out = Command::new("ip")
        .args(["netns", "exec", &ns_name(lab, r), VIPD, "upgrade", "--control"])
        .arg(sock)
        .stdin(Stdio::null())
        .output()
        .expect("run vipd upgrade");
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), s(&out.stdout), s(&out.stderr))
}

fn control(lab: &Lab, r: Router) -> PathBuf {
    lab.dir().join("run").join(if matches!(r, R1) { "r1.sock" } else { "r2.sock" })
}

fn pid_of(lab: &Lab, r: Router) -> u32 {
    let f = lab.dir().join("run").join(if matches!(r, R1) { "r1.pid" } else { "r2.pid" });
    std::fs::read_to_string(&f).ok().and_then(|t| t.trim().parse().ok()).expect("the pid file")
}

/// Starts vipd on `r` from `exe` (its path as a service would know it).
fn start_from(lab: &mut Lab, r: Router, v: &Vrrp, exe: &Path) -> lab::Daemon {
    let conf = lab.config(r, v);
    let script = format!("shift; exec {} \"$@\"", exe.display());
    lab.start_vipd_wrapped(r, &conf, &["sh", "-c", &script, "sh"])
}

/// A client pinging the VIP every 5 ms; SIGINT makes ping print its
/// summary, which [`lost`] reads.
struct Ping(std::process::Child, PathBuf);

fn start_ping(lab: &Lab) -> Ping {
    let out = lab.dir().join("ping5.txt");
    let c = lab.ns_path("c");
    let c = c.file_name().and_then(|n| n.to_str()).expect("client namespace");
    let child = Command::new("ip")
        .args(["netns", "exec", c, "ping", "-n", "-q", "-i", "0.005", &lab.vip()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("ping output"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start ping");
    Ping(child, out)
}

/// Stops the ping: (sent, received).
fn stop_ping(mut p: Ping) -> (u64, u64) {
    let _ = Command::new("kill").args(["-INT", &p.0.id().to_string()]).status();
    let _ = p.0.wait();
    let text = std::fs::read_to_string(&p.1).unwrap_or_default();
    let line = text.lines().find(|l| l.contains("packets transmitted")).unwrap_or_default().to_owned();
    let num = |w: &str| line.split(", ").find(|p| p.contains(w)).and_then(|p| p.split(' ').next()?.parse().ok());
    (num("transmitted").unwrap_or(0), num("received").unwrap_or(0))
}

/// 20 upgrades of the daemon on `target` (alternating the two builds),
/// with the peer on the lab's binary; the master is R1 throughout.
fn upgrades_keep_everything(test: &str, net: u8, target: Router) {
    let Some(mut lab) = Lab::new(test, net) else { return };
    let b = build_b();
    let exe = lab.dir().join("vipd");
    let builds = [lab.dir().join("vipd.a"), lab.dir().join("vipd.b")];
    for (from, to) in [Path::new(VIPD), b.as_path()].into_iter().zip(&builds) {
        std::fs::copy(from, to).expect("copy a build into the lab");
        // 72 MB of debug binaries left dirty were still being written back
        // at the first upgrade on a fresh CI machine: 36.6 ms from snapshot
        // to running, past the backup's 36 ms Master_Down. A package
        // manager syncs what it installs; so does the lab.
        std::fs::File::open(to).and_then(|f| f.sync_all()).expect("sync a build");
    }
    place(&builds[0], &exe);
    let master = start_from(&mut lab, R1, &HIGH, if target == R1 { &exe } else { Path::new(VIPD) });
    // The backup starts once the master is master: two routers started
    // together within one Master_Down (36 ms) both elect themselves before
    // either hears the other, as VRRP has them do, and the check below is
    // that the backup never does so across the upgrades.
    lab.wait_for(master, MASTER);
    let backup = start_from(&mut lab, R2, &LOW, if target == R2 { &exe } else { Path::new(VIPD) });
    lab.converges_on(R1, Duration::from_millis(500));
    let pid = pid_of(&lab, target);
    let ping = start_ping(&lab);
    std::thread::sleep(Duration::from_millis(300));
    let mut took = Vec::new();
    let adverts = std::thread::scope(|s| {
        let cap = s.spawn(|| lab.capture_adverts(R1, Duration::from_millis(300) * (UPGRADES as u32 + 2)));
        std::thread::sleep(Duration::from_millis(200));
        for k in 0..UPGRADES {
            let (tag, from) = if k % 2 == 0 { ("+b", &builds[1]) } else { ("running as", &builds[0]) };
            place(from, &exe);
            let (code, out, err) = upgrade(&lab, target);
            assert_eq!(code, Some(0), "upgrade {k}: {out}{err}\n{}", lab.status());
            assert!(out.contains(&format!("running as pid {pid},")), "upgrade {k}: {out}");
            let version = out.split_whitespace().nth(2).unwrap_or_default().to_owned();
            assert_eq!(version.contains("+b"), k % 2 == 0, "upgrade {k} ran the wrong build: {out}");
            let _ = tag;
            took.push(out);
            std::thread::sleep(Duration::from_millis(200));
        }
        cap.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    let (sent, received) = stop_ping(ping);
    let gap = lab::max_gap(&adverts);
    println!(
        "{test}: {UPGRADES} upgrades of {}: largest advert gap {:.1} ms ({} adverts), pings {received}/{sent}",
        if target == R1 { "the master" } else { "the backup" },
        gap.as_secs_f64() * 1000.0,
        adverts.len()
    );
    for t in took.iter().take(3) {
        println!("{test}: {}", t.trim_end());
    }
    assert!(sent > 500, "{test}: the client sent only {sent} pings");
    assert_eq!(sent, received, "{test}: pings lost during the upgrades\n{}", lab.status());
    assert!(adverts.len() > 500, "{test}: captured only {} adverts", adverts.len());
    assert!(adverts.iter().all(|a| a.priority == HIGH.priority), "{test}: the master sent another priority");
    assert!(gap <= GAP_BOUND, "{test}: advert gap {gap:?} > {GAP_BOUND:?}\n{}", lab.status());
    assert!(!lab.log(backup).contains(MASTER), "{test}: the backup entered MASTER\n{}", lab.status());
    assert_eq!(pid_of(&lab, target), pid);
    assert!(lab.holds_vip(R1) && !lab.holds_vip(R2));
    let log = lab.log(if target == R1 { master } else { backup });
    assert_eq!(log.matches("upgraded: vipd").count(), UPGRADES, "{test}: {log}");
    assert_eq!(log.matches(MASTER).count(), usize::from(target == R1), "{test}: state changed\n{log}");
    let _ = VIPD_KIND;
}

#[test]
fn upgrading_the_master_keeps_it_master() {
    upgrades_keep_everything("upg-m", 81, R1);
}

#[test]
fn upgrading_the_backup_never_takes_over() {
    upgrades_keep_everything("upg-b", 82, R2);
}

#[test]
fn a_failing_binary_leaves_the_old_one_running() {
    let Some(mut lab) = Lab::new("upg-f", 83) else { return };
    let exe = lab.dir().join("vipd");
    install(Path::new(VIPD), &exe);
    let master = start_from(&mut lab, R1, &HIGH, &exe);
    lab.wait_for(master, MASTER);
    let backup = start_from(&mut lab, R2, &LOW, Path::new(VIPD));
    lab.converges_on(R1, Duration::from_millis(300));
    let pid = pid_of(&lab, R1);

    // A new "binary" that exits 1, as a broken build or a missing library
    // would.
    let broken = lab.dir().join("broken");
    std::fs::write(&broken, "#!/bin/sh\necho 'broken build' >&2\nexit 1\n").expect("write");
    let _ = Command::new("chmod").arg("755").arg(&broken).status();
    install(&broken, &exe);
    let (code, out, err) = upgrade(&lab, R1);
    println!("upg-f: exit 1 binary: status {code:?}: {}", err.trim_end());
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("failed") && err.contains("broken build"), "{err}");

    // The real binary, but the configuration file was edited into one it
    // rejects (the running daemon keeps the one it read).
    install(Path::new(VIPD), &exe);
    let conf = lab.dir().join("r1-vipd-1.conf");
    let text = std::fs::read_to_string(&conf).expect("r1's configuration");
    std::fs::write(&conf, text.replace("priority 150", "priority 300")).expect("edit");
    let (code, out, err) = upgrade(&lab, R1);
    println!("upg-f: rejected configuration: status {code:?}: {}", err.lines().next().unwrap_or_default());
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("priority"), "{err}");

    // A binary that has gone (removed, not replaced).
    std::fs::remove_file(&exe).expect("remove");
    let (code, _, err) = upgrade(&lab, R1);
    println!("upg-f: missing binary: status {code:?}: {}", err.trim_end());
    assert_eq!(code, Some(1), "{err}");

    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pid_of(&lab, R1), pid);
    assert_eq!(lab.state(master).as_deref(), Some("MASTER"));
    assert!(!lab.log(master).contains("upgraded: vipd"));
    assert!(!lab.log(backup).contains(MASTER), "{}", lab.status());
    assert!(lab.holds_vip(R1) && !lab.holds_vip(R2));
    // And it still answers, and upgrades once the file is right again.
    std::fs::write(&conf, text).expect("restore");
    install(Path::new(VIPD), &exe);
    let (code, out, err) = upgrade(&lab, R1);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("running as pid {pid},")), "{out}");
}
