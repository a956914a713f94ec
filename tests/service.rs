//! Service-manager integration, checked with fake sockets:
//! - `Type=notify`: vipd tells the service manager READY=1 once its
//!   configuration is loaded and its sockets are open, RELOADING=1 / READY=1
//!   around a SIGHUP reload, and STOPPING=1 on SIGTERM (`$NOTIFY_SOCKET`);
//! - `-S`: log lines go to `/dev/log` (here a socket of the test's, mounted
//!   over `/dev/log` in a private mount namespace).
//!
//! Needs root and network namespaces; skipped otherwise.

#[path = "../src/sys/testkit.rs"]
#[allow(dead_code)]
mod testkit;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{NetNs, TempDir, skip};

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
