//! `Type=notify`: vipd tells the service manager READY=1 once its
//! configuration is loaded and its sockets are open, RELOADING=1 / READY=1
//! around a SIGHUP reload, and STOPPING=1 on SIGTERM; checked with a fake
//! `$NOTIFY_SOCKET`. Needs root and network namespaces; skipped otherwise.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Lab {
    ns: String,
    dir: PathBuf,
    vipd: Option<std::process::Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Also when an assertion failed half-way: no vipd is left running.
        if let Some(mut c) = self.vipd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn notify_socket_gets_ready_reloading_and_stopping() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipping: needs root and network namespaces");
        return;
    }
    let mut lab = Lab {
        ns: format!("vipd-sdn-{}", std::process::id()),
        dir: std::env::temp_dir().join(format!("vipd-sdn-{}", std::process::id())),
        vipd: None,
    };
    std::fs::create_dir_all(&lab.dir).unwrap();
    run(&["netns", "add", &lab.ns]);
    run(&["-n", &lab.ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
    run(&["-n", &lab.ns, "addr", "add", "10.63.0.1/24", "dev", "eth0"]);
    run(&["-n", &lab.ns, "link", "set", "eth0", "up"]);
    run(&["-n", &lab.ns, "link", "set", "eth1", "up"]);
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
        .args(["netns", "exec", &lab.ns, env!("CARGO_BIN_EXE_vipd"), "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(lab.dir.join("vipd.pid"))
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    lab.vipd = Some(child);
    let mut buf = [0u8; 256];
    let mut next = || {
        let n = sock.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
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
}
