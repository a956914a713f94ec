//! Service-manager integration, checked with fake sockets:
//! - `Type=notify`: vipd tells the service manager READY=1 once its
//!   configuration is loaded and its sockets are open, RELOADING=1 / READY=1
//!   around a SIGHUP reload, and STOPPING=1 on SIGTERM (`$NOTIFY_SOCKET`);
//! - `-S`: log lines go to `/dev/log` (here a socket of the test's, mounted
//!   over `/dev/log` in a private mount namespace).
//!
//! - the shipped unit and runit scripts, and `vipd cleanup` after an
//!   unclean exit: a master killed with SIGKILL under runsv loses its VIP
//!   at once while the peer takes over; cleanup refuses while a daemon is
//!   alive and removes nothing the configuration does not list.
//!
//! Needs root and network namespaces; skipped otherwise.

// The lab brings the shared test kit with it (one copy per binary).
#[path = "netns/lab.rs"]
#[allow(dead_code)]
mod lab;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use lab::testkit::{NetNs, TempDir, skip};

struct Lab {
    ns: NetNs,
    dir: TempDir,
    vipd: Option<std::process::Child>,
}

impl Lab {
    /// A namespace `vipd-<tag>-<pid>` with a veth pair, eth0 up as `addr`,
    /// and a scratch directory; None (with the reason printed) when not root.
    fn new(tag: &str, addr: &str, needs: &str) -> Option<Lab> {
        if !rustix::process::geteuid().is_root() {
            skip(&format!("needs root and {needs}"));
            return None;
        }
        let ns = NetNs::new(tag)?;
        ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
        ns.ip(&["addr", "add", addr, "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        ns.ip(&["link", "set", "eth1", "up"]);
        Some(Lab { ns, dir: TempDir::new(tag), vipd: None })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Also when an assertion failed half-way: no vipd is left running.
        if let Some(mut c) = self.vipd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Then the namespace and the directory go with the fields.
    }
}

#[test]
fn notify_socket_gets_ready_reloading_and_stopping() {
    let Some(mut lab) = Lab::new("sdn", "10.63.0.1/24", "network namespaces") else { return };
    let conf = lab.dir.join("vipd.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n version 3\n advert_int 0.1\n \
         virtual_ipaddress {\n  10.63.0.100/24\n }\n}\n",
    )
    .unwrap();
    let sock_path = lab.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", lab.ns.name(), env!("CARGO_BIN_EXE_vipd"), "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(lab.dir.join("vipd.pid"))
        .arg("--control")
        .arg(lab.dir.join("vipd.sock"))
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    lab.vipd = Some(child);
    let mut buf = [0u8; 256];
    // STATUS= summaries come after READY=1 and after every transition, in
    // between the lifecycle messages: collected aside.
    let mut summaries = Vec::new();
    let mut next = || loop {
        let n = sock.recv(&mut buf).expect("a notification within 10 s");
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        match msg.strip_prefix("STATUS=") {
            Some(s) => summaries.push(s.to_owned()),
            None => return msg,
        }
    };
    assert_eq!(next(), "READY=1\nSTATUS=running");
    // `ip netns exec` execs vipd, so the child is vipd itself.
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert_eq!(next(), "RELOADING=1");
    assert_eq!(next(), "READY=1");
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert_eq!(next(), "STOPPING=1");
    let status = lab.vipd.take().map(|mut c| c.wait().unwrap());
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert_eq!(summaries.first().map(String::as_str), Some("VI_1 BACKUP"), "the summary after READY=1: {summaries:?}");
}

#[test]
fn log_facility_sends_the_log_to_dev_log() {
    let Some(mut lab) = Lab::new("slg", "10.64.0.1/24", "network and mount namespaces") else { return };
    let conf = lab.dir.join("vipd.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 255\n \
         virtual_ipaddress {\n  10.64.0.100/24\n }\n}\n",
    )
    .unwrap();
    let sock_path = lab.dir.join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A private /dev holding only what vipd needs, with our socket as
    // /dev/log: the machine's own /dev (and syslog) are not touched.
    let inner = format!(
        "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log && \
         mount --bind {sock} /dev/log && exec {vipd} -S 3 -f {conf} -p {pid}",
        sock = sock_path.display(),
        vipd = env!("CARGO_BIN_EXE_vipd"),
        conf = conf.display(),
        pid = lab.dir.join("vipd.pid").display(),
    );
    let child = Command::new("ip")
        .args(["netns", "exec", lab.ns.name(), "unshare", "-m", "--propagation", "private", "sh", "-c", &inner])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    lab.vipd = Some(child);
    let mut buf = [0u8; 2048];
    let mut lines = Vec::new();
    // local3 at severity info: <158>.
    let prefix = format!("<158>vipd[{pid}]: ");
    while !lines.iter().any(|l: &String| l.ends_with("(VI_1) Entering MASTER STATE")) {
        let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("a log line within 10 s ({e}); so far {lines:#?}"));
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(line.starts_with(&prefix), "{line:?} should start with {prefix:?}");
        lines.push(line);
    }
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = lab.vipd.take().map(|c| c.wait_with_output().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Without -l nothing went to standard error.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// The shipped unit parses cleanly: `systemd-analyze verify` (no systemd
/// needed as process 1) on a copy that points at the built binary prints
/// nothing, and the lines the daemon depends on are there.
#[test]
fn systemd_unit_verifies() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/systemd/vipd.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "KillMode=mixed", "NoNewPrivileges=yes"] {
        assert!(text.lines().any(|l| l == line), "the unit lacks `{line}`");
    }
    let caps = text.lines().find_map(|l| l.strip_prefix("CapabilityBoundingSet=")).expect("a bounding set");
    for cap in ["CAP_NET_RAW", "CAP_NET_ADMIN"] {
        assert!(caps.split(' ').any(|c| c == cap), "the bounding set lacks {cap}");
    }
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        skip("needs systemd-analyze (apt-get install systemd)");
        return;
    }
    let dir = TempDir::new("unit");
    let copy = dir.join("vipd.service");
    std::fs::write(&copy, text.replace("/usr/sbin/vipd", env!("CARGO_BIN_EXE_vipd"))).unwrap();
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&copy).output().unwrap();
    drop(dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "systemd-analyze verify: {}\n{err}", out.status);
}

/// The runit run script, with a `conf` pointing at the built binary and a
/// test configuration: vipd runs in the foreground with its log on the
/// script's standard output, becomes master, and exits 0 on SIGTERM (the run
/// script execs it, so runsv signals vipd itself). With a broken
/// configuration the script exits 1 and the log names the error.
#[test]
fn runit_run_script_runs_vipd() {
    let Some(mut lab) = Lab::new("rit", "10.65.0.1/24", "network namespaces") else { return };
    let run = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/runit/vipd/run");
    let conf = lab.dir.join("vipd.conf");
    std::fs::write(
        lab.dir.join("conf"),
        format!(
            "VIPD={}\nPIDFILE={}\nOPTS=\"-f {}\"\n",
            env!("CARGO_BIN_EXE_vipd"),
            lab.dir.join("vipd.pid").display(),
            conf.display()
        ),
    )
    .unwrap();
    let start = |lab: &Lab| {
        let log = std::fs::File::create(lab.dir.join("current")).unwrap();
        Command::new("ip")
            .args(["netns", "exec", lab.ns.name(), "sh", run])
            .current_dir(&lab.dir.0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let log = |lab: &Lab| std::fs::read_to_string(lab.dir.join("current")).unwrap_or_default();

    std::fs::write(&conf, "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priorty 255\n}\n").unwrap();
    let status = start(&lab).wait().unwrap();
    assert_eq!(status.code(), Some(1), "the run script with a broken configuration:\n{}", log(&lab));
    assert!(log(&lab).contains("vipd.conf:4:"), "the log names the error:\n{}", log(&lab));

    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 255\n \
         virtual_ipaddress {\n  10.65.0.100/24\n }\n}\n",
    )
    .unwrap();
    let child = start(&lab);
    let pid = child.id().to_string();
    lab.vipd = Some(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !log(&lab).contains("(VI_1) Entering MASTER STATE") {
        assert!(std::time::Instant::now() < deadline, "no MASTER within 10 s:\n{}", log(&lab));
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = lab.vipd.take().map(|mut c| c.wait().unwrap());
    assert_eq!(status.and_then(|s| s.code()), Some(0), "vipd's exit status under the run script:\n{}", log(&lab));
    assert!(log(&lab).contains("(VI_1) Stopped"), "{}", log(&lab));
}

const VIPD: &str = env!("CARGO_BIN_EXE_vipd");
const HIGH: lab::Vrrp = lab::Vrrp { priority: 150, master: true, ..lab::Vrrp::V3 };
const LOW: lab::Vrrp = lab::Vrrp { priority: 100, master: false, ..lab::Vrrp::V3 };

/// The `ip netns` name of `host` in a namespace lab.
fn ns_name(lab: &lab::Lab, host: &str) -> String {
    lab.ns_path(host).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `vipd ARGS` inside namespace `ns`: exit code, stdout, stderr.
fn vipd_in(ns: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new("ip").args(["netns", "exec", ns, VIPD]).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The shipped ExecStopPost= line and runit finish script, run by hand with
/// a recorder in vipd's place: neither runs `vipd cleanup` after a clean
/// exit; both run it, with the daemon's pid file and flags, after a kill.
#[test]
fn service_scripts_run_cleanup_only_after_unclean_exits() {
    let dir = TempDir::new("clscripts");
    let calls = dir.join("calls");
    let fake = dir.file("vipd", &format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()), 0o755);
    let fake = fake.to_string_lossy().into_owned();
    let calls_now = || std::fs::read_to_string(&calls).unwrap_or_default();

    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/systemd/vipd.service")).unwrap();
    // systemd joins continued lines with a space and turns $$ into $.
    let joined = unit.replace("\\\n", " ");
    let line = joined.lines().find_map(|l| l.strip_prefix("ExecStopPost=")).expect("an ExecStopPost= line");
    let script = line.strip_prefix("/bin/sh -c '").and_then(|l| l.strip_suffix('\'')).expect("/bin/sh -c '...'");
    let script = script.replace("$$", "$").replace("/usr/sbin/vipd", &fake);
    for (result, runs) in [("success", false), ("signal", true), ("exit-code", true), ("timeout", true)] {
        let before = calls_now();
        // VIPD_ARGS comes from /etc/default/vipd (EnvironmentFile=).
        let st = Command::new("/bin/sh")
            .args(["-c", &script])
            .env("SERVICE_RESULT", result)
            .env("VIPD_ARGS", "-f /x/k.conf -D")
            .status()
            .unwrap();
        assert!(st.success(), "ExecStopPost with SERVICE_RESULT={result}: {st}");
        let new = calls_now()[before.len()..].to_owned();
        let want = if runs { "-f /x/k.conf -D cleanup\n" } else { "" };
        assert_eq!(new, want, "ExecStopPost with SERVICE_RESULT={result}");
    }

    let finish = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/runit/vipd/finish");
    std::fs::write(dir.join("conf"), format!("VIPD={fake}\nPIDFILE=/x/vipd.pid\nOPTS=\"-f /x/k.conf -D\"\n")).unwrap();
    // runsv's arguments: run's exit code (-1 for a signal) and the signal.
    for (args, runs) in [(["0", "0"], false), (["-1", "9"], true), (["1", "0"], true), (["-1", "6"], true)] {
        let before = calls_now();
        let st = Command::new("sh").arg(finish).args(args).current_dir(&dir.0).status().unwrap();
        assert!(st.success(), "finish {args:?}: {st}");
        let new = calls_now()[before.len()..].to_owned();
        let want = if runs { "-p /x/vipd.pid -f /x/k.conf -D cleanup\n" } else { "" };
        assert_eq!(new, want, "finish {args:?}");
    }
}

/// A master under runsv with the shipped run and finish scripts is killed
/// with SIGKILL (vipd itself, not runsv): finish runs `vipd cleanup`, and
/// within 1 s the VIP is gone from the master's interface while the peer
/// holds it; the router's own address stays. `sv once` keeps runsv from
/// starting vipd again after finish, so what is seen is cleanup's doing.
#[test]
fn sigkilled_master_under_runsv_loses_its_vip_at_once() {
    let Some(mut lab) = lab::Lab::new("clrsv", 171) else { return };
    if Command::new("sh")
        .args(["-c", "command -v runsv && command -v sv"])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        skip("needs runit's runsv and sv (scripts/test installs runit)");
        return;
    }
    use lab::Router::{R1, R2};
    let peer = lab.start(R2, lab::Kind::Vipd, &LOW);
    lab.wait_for(peer, "Entering MASTER STATE");

    // A copy of the shipped service directory: run and finish as they are,
    // conf pointing at the test's binary, configuration and paths.
    let sv = lab.dir().join("sv-vipd");
    std::fs::create_dir_all(&sv).unwrap();
    for f in ["run", "finish"] {
        let from = format!("{}/scripts/runit/vipd/{f}", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(&from, sv.join(f)).unwrap();
    }
    let conf = lab.dir().join("r1-runsv.conf");
    std::fs::write(&conf, lab.config(R1, &HIGH)).unwrap();
    let pid_file = lab.dir().join("r1-runsv.pid");
    let control = lab.dir().join("r1-runsv.sock");
    std::fs::write(
        sv.join("conf"),
        format!(
            "VIPD={VIPD}\nPIDFILE={}\nOPTS=\"-D -f {} --control {}\"\n",
            pid_file.display(),
            conf.display(),
            control.display()
        ),
    )
    .unwrap();
    let r1 = ns_name(&lab, "r1");
    let sv_dir = sv.to_string_lossy().into_owned();
    let runsv = lab.start_helper("runsv.log", &["ip", "netns", "exec", &r1, "runsv", &sv_dir]);
    let log = || std::fs::read_to_string(&runsv.out).unwrap_or_default();
    let what = "r1 (under runsv) holding the VIP, r2 not";
    lab.eventually(what, lab::TIMEOUT, |l| l.holds_vip(R1) && !l.holds_vip(R2));
    assert!(log().contains("(VI_1) Entering MASTER STATE"), "{}", log());

    // Not restarted once it ends; runsv has taken the request when its
    // status says it wants the service down.
    let sv_cmd = |cmd: &str| {
        let out = Command::new("sv").args([cmd, &sv_dir]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    sv_cmd("once");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !sv_cmd("status").contains("want down") {
        assert!(std::time::Instant::now() < deadline, "sv once not taken: {}", sv_cmd("status"));
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_owned();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap().trim(), "vipd");
    assert!(sv_cmd("status").contains(&format!("(pid {pid})")), "runsv's child is vipd {pid}: {}", sv_cmd("status"));

    let killed = std::time::Instant::now();
    Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    let deadline = killed + Duration::from_secs(1);
    let mut r1_lost = None;
    loop {
        let (r1_holds, r2_holds) = (lab.holds_vip(R1), lab.holds_vip(R2));
        if !r1_holds && r1_lost.is_none() {
            r1_lost = Some(killed.elapsed());
        }
        if !r1_holds && r2_holds {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "1 s after SIGKILL: r1 holds the VIP {}, r2 {}\nrunsv log:\n{}\n{}",
            lab.holds_vip(R1),
            lab.holds_vip(R2),
            log(),
            lab.status()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = killed.elapsed();
    let removed = format!("vipd cleanup: (VI_1) removed {}/24 from eth0", lab.vip());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !log().contains("vipd cleanup: 1 removed") {
        assert!(std::time::Instant::now() < deadline, "no cleanup summary in the log:\n{}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(log().contains(&removed), "{}", log());
    assert!(lab.holds_addr(R1, &lab.addr(R1)), "cleanup removed r1's own address\n{}", lab.status());
    // Nothing put it back: vipd stays down and r2 keeps the VIP.
    lab.stays("r2 alone holding the VIP", Duration::from_millis(500), |l| l.holds_vip(R2) && !l.holds_vip(R1));
    assert!(sv_cmd("status").starts_with("down:"), "{}", sv_cmd("status"));
    println!("after SIGKILL: VIP gone from the killed master in {r1_lost:?}, both conditions held in {took:?}");

    sv_cmd("exit");
    assert!(lab.helper_exited(&runsv, lab::TIMEOUT), "runsv did not exit on sv exit");
}

/// `vipd cleanup` for a running daemon refuses and removes nothing, whether
/// the pid file or the control socket gives the daemon away.
#[test]
fn cleanup_refuses_while_the_daemon_is_alive() {
    let Some(mut lab) = lab::Lab::new("clref", 172) else { return };
    use lab::Router::R1;
    let d = lab.start(R1, lab::Kind::Vipd, &HIGH);
    lab.wait_for(d, "Entering MASTER STATE");
    lab.eventually("r1 holding the VIP", lab::TIMEOUT, |l| l.holds_vip(R1));
    let conf = lab.dir().join("r1-cleanup.conf");
    std::fs::write(&conf, lab.config(R1, &HIGH)).unwrap();
    let (conf, pid, sock) = (
        conf.to_string_lossy().into_owned(),
        lab.pid_file(R1, lab::Kind::Vipd).to_string_lossy().into_owned(),
        lab.control_path(R1).to_string_lossy().into_owned(),
    );
    let missing = lab.dir().join("no.pid").to_string_lossy().into_owned();
    let r1 = ns_name(&lab, "r1");
    let cases: [(&[&str], &str); 3] = [
        (&["-p", &pid, "--control", &sock], "vipd is running as pid"),
        (&["-p", &pid, "--control", "none"], "vipd is running as pid"),
        (&["-p", &missing, "--control", &sock], "a daemon answers on"),
    ];
    for (flags, why) in cases {
        let mut args = vec!["-f", conf.as_str()];
        args.extend_from_slice(flags);
        args.push("cleanup");
        let (code, out, err) = vipd_in(&r1, &args);
        assert_eq!(code, Some(1), "vipd {args:?}: {out}{err}");
        assert!(err.contains(why) && err.contains("nothing removed"), "vipd {args:?}: {err}");
        assert!(out.is_empty(), "vipd {args:?}: {out}");
        assert!(lab.holds_vip(R1), "vipd {args:?} removed the live master's VIP");
    }
    // The flags after the subcommand are the same flags.
    let (code, _, err) = vipd_in(&r1, &["cleanup", "-f", &conf, "-p", &pid, "--control", &sock]);
    assert_eq!(code, Some(1), "{err}");
    assert!(lab.holds_vip(R1));
    assert_eq!(lab.state(d).as_deref(), Some("MASTER"), "{}", lab.log(d));
}

/// `vipd cleanup` with nothing running removes the configured addresses
/// found on their interface with their prefix, and nothing else: the
/// host's own address, an unconfigured one, and a configured address
/// present with another prefix stay; a configured interface that does not
/// exist is skipped with a note.
#[test]
fn cleanup_removes_only_configured_addresses() {
    let Some(lab) = Lab::new("clonly", "10.66.0.1/24", "network namespaces") else { return };
    for a in ["10.66.0.100/24", "10.66.0.101/24", "10.66.0.102/32"] {
        lab.ns.ip(&["addr", "add", a, "dev", "eth0"]);
    }
    lab.ns.ip(&["-6", "addr", "add", "fd00:66::100/64", "dev", "eth0", "nodad"]);
    lab.ns.ip(&["addr", "add", "10.66.0.100/24", "dev", "eth1"]);
    let conf = lab.dir.file(
        "vipd.conf",
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress {\n  10.66.0.100/24\n  10.66.0.102/24\n  10.66.0.103/24\n  10.66.9.1/24 dev gone0\n }\n \
         virtual_ipaddress_excluded {\n  fd00:66::100/64\n }\n}\n",
        0o644,
    );
    let conf = conf.to_string_lossy().into_owned();
    let pid = lab.dir.join("vipd.pid").to_string_lossy().into_owned();
    let sock = lab.dir.join("vipd.sock").to_string_lossy().into_owned();
    let (code, out, err) = vipd_in(lab.ns.name(), &["-f", &conf, "-p", &pid, "--control", &sock, "cleanup"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        "vipd cleanup: (VI_1) removed 10.66.0.100/24 from eth0\n\
         vipd cleanup: (VI_1) removed fd00:66::100/64 from eth0\n\
         vipd cleanup: 2 removed, 1 not present, 2 left alone, 0 failed\n"
    );
    assert!(err.contains("10.66.0.102 is on eth0 as /32, not /24"), "{err}");
    assert!(err.contains("interface `gone0` does not exist"), "{err}");
    let eth0 = lab.ns.ip(&["-o", "addr", "show", "dev", "eth0"]);
    for gone in [" 10.66.0.100/", " fd00:66::100/"] {
        assert!(!eth0.contains(gone), "{gone} is still on eth0:\n{eth0}");
    }
    for kept in [" 10.66.0.1/24", " 10.66.0.101/24", " 10.66.0.102/32"] {
        assert!(eth0.contains(kept), "{kept} was removed from eth0:\n{eth0}");
    }
    let eth1 = lab.ns.ip(&["-o", "addr", "show", "dev", "eth1"]);
    assert!(eth1.contains(" 10.66.0.100/24"), "the VIP's address on another interface was removed:\n{eth1}");

    // Run again: nothing left to do.
    let (code, out, _) = vipd_in(lab.ns.name(), &["-f", &conf, "-p", &pid, "--control", &sock, "cleanup"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "vipd cleanup: 0 removed, 3 not present, 2 left alone, 0 failed\n");

    // A configuration with errors: nothing is removed.
    lab.ns.ip(&["addr", "add", "10.66.0.100/24", "dev", "eth0"]);
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n interface eth0\n priorty 1\n virtual_ipaddress {\n  10.66.0.100/24\n }\n}\n",
    )
    .unwrap();
    let (code, out, err) = vipd_in(lab.ns.name(), &["-f", &conf, "-p", &pid, "--control", &sock, "cleanup"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("the configuration has") && err.contains("nothing removed"), "{err}");
    assert!(lab.ns.ip(&["-o", "addr", "show", "dev", "eth0"]).contains(" 10.66.0.100/24"));
}

/// A master with `use_vmac`, virtual routes and a virtual rule is killed
/// with SIGKILL: its macvlan (with the VIP and the virtual MAC), routes and
/// rule stay behind. `vipd cleanup` removes what the daemon marked as its
/// own and nothing else: a route of the same prefix someone else added
/// (another protocol, another metric) and a `no_track` route without a
/// protocol (it cannot be told from anyone's) stay.
#[test]
fn cleanup_removes_a_killed_masters_macvlan_routes_and_rules() {
    let Some(mut lab) = Lab::new("clvm", "10.67.0.1/24", "network namespaces") else { return };
    let conf = lab.dir.file(
        "vipd.conf",
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n version 3\n advert_int 0.1\n \
         priority 150\n use_vmac\n virtual_ipaddress {\n  10.67.0.100/24\n }\n \
         virtual_routes {\n  10.68.0.0/24 via 10.67.0.254 dev eth0\n  blackhole 10.69.0.0/24 table 100\n  \
         10.70.0.0/24 dev eth0 no_track\n }\n \
         virtual_rules {\n  from 10.67.0.100/32 table 100 priority 100\n }\n}\n",
        0o644,
    );
    // Someone else's route to the same prefix.
    lab.ns.ip(&[
        "route",
        "add",
        "10.68.0.0/24",
        "via",
        "10.67.0.254",
        "dev",
        "eth0",
        "metric",
        "50",
        "proto",
        "static",
    ]);
    let conf = conf.to_string_lossy().into_owned();
    let pid = lab.dir.join("vipd.pid").to_string_lossy().into_owned();
    let sock = lab.dir.join("vipd.sock").to_string_lossy().into_owned();
    let child = Command::new("ip")
        .args(["netns", "exec", lab.ns.name(), VIPD, "-f", &conf, "-p", &pid, "--control", &sock])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.vipd = Some(child);
    // `ip` that may fail (the macvlan may not exist yet, or any more).
    let ip_may_fail = |lab: &Lab, args: &[&str]| {
        let out = Command::new("ip").args(["-n", lab.ns.name()]).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let vmac_holds_vip =
        |lab: &Lab| ip_may_fail(lab, &["-o", "addr", "show", "dev", "vrrp.51"]).1.contains(" 10.67.0.100/24");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !(vmac_holds_vip(&lab) && lab.ns.ip(&["rule"]).contains("lookup 100")) {
        assert!(std::time::Instant::now() < deadline, "no master with its VIP on vrrp.51 and its rule in 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let routes = || lab.ns.ip(&["route", "show", "table", "all"]);
    let ours =
        ["10.68.0.0/24 via 10.67.0.254 dev eth0 proto keepalived", "blackhole 10.69.0.0/24 table 100 proto keepalived"];
    for r in ours {
        assert!(routes().contains(r), "the master did not install `{r}`:\n{}", routes());
    }
    if let Some(mut c) = lab.vipd.take() {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    assert!(vmac_holds_vip(&lab), "SIGKILL left nothing behind: the test proves nothing");

    let (code, out, err) = vipd_in(lab.ns.name(), &["-f", &conf, "-p", &pid, "--control", &sock, "cleanup"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        "vipd cleanup: (VI_1) removed rule preference 100\n\
         vipd cleanup: (VI_1) removed route 10.68.0.0/24\n\
         vipd cleanup: (VI_1) removed route 10.69.0.0/24 table 100\n\
         vipd cleanup: (VI_1) removed 10.67.0.100/24 from vrrp.51\n\
         vipd cleanup: (VI_1) removed macvlan vrrp.51\n\
         vipd cleanup: 5 removed, 0 not present, 1 left alone, 0 failed\n"
    );
    assert!(err.contains("route 10.70.0.0/24: no_track without protocol"), "{err}");
    let (st, _) = ip_may_fail(&lab, &["link", "show", "dev", "vrrp.51"]);
    assert!(!st, "the macvlan is still there");
    let after = routes();
    for r in ours {
        assert!(!after.contains(r), "`{r}` is still there:\n{after}");
    }
    assert!(after.contains("10.68.0.0/24 via 10.67.0.254 dev eth0 proto static metric 50"), "{after}");
    assert!(after.contains("10.70.0.0/24 dev eth0"), "the unmarked no_track route was removed:\n{after}");
    assert!(!lab.ns.ip(&["rule"]).contains("lookup 100"), "{}", lab.ns.ip(&["rule"]));
    assert!(lab.ns.ip(&["-o", "addr", "show", "dev", "eth0"]).contains(" 10.67.0.1/24"));

    let (code, out, _) = vipd_in(lab.ns.name(), &["-f", &conf, "-p", &pid, "--control", &sock, "cleanup"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "vipd cleanup: 0 removed, 5 not present, 1 left alone, 0 failed\n");
}
