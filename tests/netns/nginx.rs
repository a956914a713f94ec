//! nginx for the `vrrp_probe` tests and bench rows (tests/netns_probes.rs,
//! tests/bench.rs): Debian's package, run in R1's namespace in the
//! foreground with its config, pid file, logs and temp paths in the lab's
//! directory, so nothing system-wide is touched. Serves `/healthz` (200)
//! and 503 elsewhere on 127.0.0.1:8080.

use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lab::{self, Lab};

/// Runs `f` on a thread that joined the namespace at `ns`.
pub fn in_ns<T: Send + 'static>(ns: PathBuf, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let file = std::fs::File::open(&ns).unwrap_or_else(|e| panic!("{}: {e}", ns.display()));
        // SAFETY: setns on a valid namespace fd affects only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// nginx in R1's namespace, with its config, pid and logs in the lab's dir.
pub struct Nginx {
    ns: String,
    dir: PathBuf,
}

impl Nginx {
    pub fn new(lab: &Lab) -> Option<Nginx> {
        let found = Command::new("sh").args(["-c", "command -v nginx"]).output().is_ok_and(|o| o.status.success());
        if !found {
            lab::testkit::skip("nginx is not installed (scripts/test installs it)");
            return None;
        }
        let dir = lab.dir().join("nginx");
        std::fs::create_dir_all(&dir).expect("nginx dir");
        let d = dir.display();
        let conf = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n    \
             access_log {d}/access.log;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    \
             fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    \
             server {{\n        listen 127.0.0.1:8080;\n        location = /healthz {{ return 200 \"ok\\n\"; }}\n        \
             location / {{ return 503; }}\n    }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
        Some(Nginx { ns: lab.ns_name("r1"), dir })
    }

    /// One line per request answered.
    pub fn access_log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    fn args(&self) -> Vec<String> {
        let d = self.dir.display().to_string();
        ["ip", "netns", "exec", &self.ns, "nginx", "-p", &d, "-e", &format!("{d}/error.log"), "-c"]
            .iter()
            .map(|s| s.to_string())
            .chain([format!("{d}/nginx.conf")])
            .collect()
    }

    /// Starts it in the foreground as a lab helper (stopped with the lab).
    pub fn start(&self, lab: &mut Lab, n: u32) {
        let mut a = self.args();
        a.extend(["-g".to_owned(), "daemon off; master_process off;".to_owned()]);
        let argv: Vec<&str> = a.iter().map(String::as_str).collect();
        lab.start_helper(&format!("nginx-{n}.out"), &argv);
        let ns = lab.ns_path("r1");
        let up = in_ns(ns, || {
            let deadline = Instant::now() + lab::TIMEOUT;
            while Instant::now() < deadline {
                if TcpStream::connect("127.0.0.1:8080").is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        });
        assert!(up.join().expect("probe thread"), "nginx did not start:\n{}", lab.status());
    }

    pub fn stop(&self) {
        let mut a = self.args();
        a.extend(["-s".to_owned(), "stop".to_owned()]);
        let st = Command::new(&a[0]).args(&a[1..]).status().expect("nginx -s stop");
        assert!(st.success(), "nginx -s stop failed");
    }
}
