//! Test helpers shared by every suite: [`TempDir`] (a fresh directory,
//! removed on drop), [`skip`] (the one way a test says it cannot run here)
//! and [`NetNs`] (a throw-away network namespace, deleted on drop). Unit
//! tests reach it as `crate::sys::testkit`; the integration tests include
//! this very file with `#[path = "../src/sys/testkit.rs"] mod testkit;`, so
//! it must use std, libc and rustix only, never a path into the crate, and
//! it holds no test logic of its own.

use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vipd-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` to `name` with `mode`; its path.
    pub fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints why a test cannot run here, so it passes as a skip; with
/// `VIPD_TESTS_MUST_RUN` set (scripts/test sets it when run as root, as in
/// CI) it fails instead, so a broken lab cannot pass by skipping.
pub fn skip(reason: &str) {
    assert!(std::env::var_os("VIPD_TESTS_MUST_RUN").is_none(), "cannot run: {reason} (VIPD_TESTS_MUST_RUN is set)");
    println!("skipping: {reason}");
}

/// A network namespace `vipd-<pid>-<tag>`, deleted when dropped (also when
/// a test panics). Everything goes through the `ip` binary; code under test
/// runs on a thread moved into the namespace ([`NetNs::run`]), so the test
/// process itself never leaves the root namespace. Tags must be unique
/// within one test binary; the pid keeps parallel test binaries apart.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// A fresh, empty namespace (not even `lo` up), or None with the reason
    /// printed through [`skip`] when this process is not root or
    /// `ip netns add` fails.
    pub fn new(tag: &str) -> Option<NetNs> {
        if !rustix::process::geteuid().is_root() {
            skip("needs root and network namespaces");
            return None;
        }
        match NetNs::add(tag) {
            Ok(ns) => Some(ns),
            Err(e) => {
                skip(&format!("needs root and network namespaces (ip netns add: {e})"));
                None
            }
        }
    }

    /// `ip netns add vipd-<pid>-<tag>`, or why it failed. For namespaces
    /// after the first, once [`NetNs::new`] has shown they work here.
    pub fn add(tag: &str) -> Result<NetNs, String> {
        remove_abandoned();
        let name = format!("vipd-{}-{tag}", std::process::id());
        // One left over from a killed run that had the same pid.
        let _ = Command::new("ip").args(["netns", "del", &name]).stderr(Stdio::null()).status();
        let out = Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| format!("run ip: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(NetNs { name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/NAME`, for code that enters the namespace itself.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// `ip -n NAME ARGS`; its output. Panics with ip's stderr on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        run("ip", &[&["-n", self.name.as_str()], args].concat())
    }

    /// Any command inside the namespace (`ip netns exec`); its output.
    /// Panics with the command's stderr on failure.
    pub fn exec(&self, cmd: &[&str]) -> String {
        run("ip", &[&["netns", "exec", self.name.as_str()], cmd].concat())
    }

    /// Moves the calling thread (only it) into the namespace: sockets it
    /// opens from now on belong there, those opened before stay in theirs.
    /// Call it on a thread of the test's own, as [`NetNs::run`] does.
    pub fn enter(&self) {
        let file = std::fs::File::open(self.path()).expect("open netns");
        // SAFETY: setns only reads the fd, which `file` keeps open for the
        // call; it changes the calling thread's namespace alone.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {}: {}", self.name, std::io::Error::last_os_error());
    }

    /// Runs `f` on a thread that has joined the namespace, so sockets it
    /// opens belong to it; re-raises its panic here.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            let handle = s.spawn(|| {
                self.enter();
                f()
            });
            match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

/// Runs `program ARGS` with `input` on its standard input: its exit
/// status and standard output then error, or None (after [`skip`], which
/// fails under `VIPD_TESTS_MUST_RUN`) when it cannot be started. For the
/// independent checkers the tests hand documents to (promtool, python3).
#[allow(dead_code)]
pub fn pipe_through(program: &str, args: &[&str], input: &str) -> Option<(bool, String, String)> {
    use std::io::Write;
    let child =
        Command::new(program).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            skip(&format!("`{program}` cannot be run ({e})"));
            return None;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write to the checker");
    }
    let out = child.wait_with_output().expect("wait for the checker");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some((out.status.success(), text(&out.stdout), text(&out.stderr)))
}

/// Moves the calling thread into the namespace at `path` (`/run/netns/X`),
/// for namespaces a lab names by path.
// Used by the integration suites only (the unit tests use NetNs).
#[allow(dead_code)]
pub fn enter_path(path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    // SAFETY: setns only reads the fd, which `file` keeps open for the
    // call; it changes the calling thread's namespace alone.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).stderr(Stdio::null()).status();
    }
}

fn run(prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog).args(args).stdin(Stdio::null()).output().expect("run command");
    assert!(out.status.success(), "{prog} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Once per test process: deletes the namespaces an interrupted run left
/// (`vipd-<pid>-...` whose process is gone) once nothing runs in them any
/// more. Ctrl-C on `cargo test` stops the test's children but skips every
/// Drop.
fn remove_abandoned() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else { return };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(ns) = line.split_whitespace().next() else { continue };
            let Some(pid) = ns.strip_prefix("vipd-").and_then(|r| r.split('-').next()) else { continue };
            if pid.is_empty()
                || !pid.bytes().all(|b| b.is_ascii_digit())
                || std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                continue;
            }
            let busy = Command::new("ip").args(["netns", "pids", ns]).output().map_or(true, |o| !o.stdout.is_empty());
            if !busy {
                let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
            }
        }
    });
}
