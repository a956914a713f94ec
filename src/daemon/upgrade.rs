//! `vipd upgrade`: the running daemon re-executes its binary in place (same
//! pid, so systemd and runit keep tracking it) and hands over its sockets
//! and its engine's state, so no election happens.
//!
//! The old image, on the request: checks the peer (root or our user only:
//! it changes what runs), sends RELOADING=1, runs `NEW -t -f CONF -i ID`
//! in a child while the loop goes on advertising, and on success takes a
//! snapshot (`Engine::export`), writes it with the fd numbers into a memfd
//! (`handover`), clears FD_CLOEXEC on exactly the fds handed over (VRRP
//! receive sockets, GARP/NA senders, ARP/NA watchers, control and metrics
//! listeners, the client, the memfd)
//! and calls `execve` with `VIPD_UPGRADE_FD` set. If the check or the
//! `execve` fails, it restores the flags and carries on unchanged, and the
//! client is told why. Nothing of the engine is touched before `execve`.
//!
//! The new image ([`take`] at start): adopts the fds, and the daemon starts
//! its engine with `Engine::start_from_snapshot`, then tells the client.
//! The packet sockets are handed over rather than reopened because closing
//! one waits for an RCU grace period (10-20 ms each, which made the
//! `execve` take 30-40 ms); watchers whose addresses changed are closed on
//! a thread. Netlink is opened afresh (the start's netlink dump replaces
//! the events queued meanwhile); check scripts running at the
//! `execve` are abandoned (their verdicts carried over are enough), and
//! notify scripts in flight run on, their output and exit unreported.

use core::cell::RefCell;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::Daemon;
use super::handover::{self, Handover};
use crate::sys::clock;
use crate::sys::inherit;
use crate::sys::reactor::Timer;

/// The environment variable naming the memfd.
pub const ENV_FD: &str = "VIPD_UPGRADE_FD";
/// Set for the `-t` run of the new binary: the snapshot version it must
/// read to take over (main.rs refuses others).
pub const ENV_CHECK: &str = "VIPD_UPGRADE_SNAPSHOT";
/// The snapshot format this binary writes and reads.
pub const SNAPSHOT_VERSION: u16 = handover::VERSION;
/// How long the new binary's configuration check may take.
const CHECK_TIME: std::time::Duration = std::time::Duration::from_secs(60);
/// What of the check's output the client is shown.
const CHECK_OUTPUT: usize = 2000;

/// What an upgrade needs to know about how this image was started, and
/// the fds of the listeners the loop owns.
#[derive(Default)]
pub(super) struct Upgrade {
    /// The binary's path as started: argv[0] made absolute (a package
    /// replaces the file there, or a symlink there is switched; the
    /// running image's /proc/self/exe would name the old, deleted inode).
    exe: Option<PathBuf>,
    argv: Vec<OsString>,
    config: PathBuf,
    config_id: String,
    pub(super) control_fd: Option<RawFd>,
    pub(super) metrics_fd: Option<RawFd>,
    /// An upgrade is running (a second request is refused).
    busy: bool,
    /// From the previous image: listeners to adopt, the client to answer.
    pub(super) inherited: Option<Inherited>,
}

/// The fds a previous image handed over, and its snapshot.
pub(super) struct Inherited {
    pub(super) snapshot: crate::core::Snapshot,
    pub(super) taken: crate::time::Instant,
    pub(super) vrrp: Vec<crate::sys::vrrp::VrrpSocket>,
    pub(super) announcer: Option<crate::sys::garp::Announcer>,
    /// ARP/NA watchers and the addresses each filters on.
    pub(super) claims: Vec<(crate::sys::claims::ClaimSocket, Vec<core::net::IpAddr>)>,
    pub(super) control: Option<OwnedFd>,
    pub(super) metrics: Option<OwnedFd>,
    pub(super) client: Option<OwnedFd>,
}

impl Upgrade {
    pub(super) fn new(opts: &super::Options) -> Upgrade {
        let argv: Vec<OsString> = std::env::args_os().collect();
        Upgrade {
            exe: argv.first().and_then(|a| resolve(Path::new(a))),
            argv,
            config: opts.config.clone(),
            config_id: opts.config_id.clone(),
            ..Upgrade::default()
        }
    }
}

/// argv[0] as a path to execute later: absolute if it has a slash, else
/// found on `$PATH`; /proc/self/exe's target when neither works.
fn resolve(arg0: &Path) -> Option<PathBuf> {
    let found = if arg0.as_os_str().as_encoded_bytes().contains(&b'/') {
        std::env::current_dir().ok().map(|d| d.join(arg0))
    } else {
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(arg0)).find(|c| c.is_file()))
    };
    found.filter(|p| p.is_file()).or_else(|| std::fs::read_link("/proc/self/exe").ok())
}

/// At start: the handover of a previous image, if this image is one's
/// `execve`. The variable is removed (scripts must not see it); a handover
/// that cannot be read is logged by the caller and the daemon starts as a
/// reload starts new instances.
pub fn take() -> Option<Result<Handover, String>> {
    let raw = std::env::var_os(ENV_FD)?;
    // SAFETY: called first thing in `run`, before any thread is started.
    unsafe { std::env::remove_var(ENV_FD) };
    let fd = raw.to_str().and_then(|s| s.parse::<i32>().ok()).and_then(inherit::adopt);
    let Some(fd) = fd else { return Some(Err(format!("{ENV_FD}: not an open fd"))) };
    let bytes = match inherit::read_all(fd.as_fd(), handover::MAX_LEN) {
        Ok(b) => b,
        Err(e) => return Some(Err(format!("reading the snapshot: {e}"))),
    };
    Some(handover::decode(&bytes).map_err(|e| format!("snapshot: {e}")))
}

/// The handover's fds, adopted and checked: what is not what it should be
/// is closed (or left alone when not open) and done without.
pub(super) fn adopt(h: Handover) -> Inherited {
    use rustix::net::SocketType;
    let sock = |fd: Option<i32>, kind| fd.and_then(inherit::adopt).filter(|f| inherit::is_socket(f.as_fd(), kind));
    let mut vrrp = Vec::new();
    for k in h.vrrp {
        let Some(fd) = sock(Some(k.fd), SocketType::RAW) else { continue };
        if let Ok(s) = crate::sys::vrrp::VrrpSocket::adopt(fd, k.ifindex, k.family, &k.groups) {
            vrrp.push(s);
        }
    }
    let announcer = h.announcer.and_then(|(p, i)| {
        let packet = sock(Some(p), SocketType::RAW)?;
        Some(crate::sys::garp::Announcer::adopt(packet, sock(i, SocketType::RAW)))
    });
    let mut claims = Vec::new();
    for c in h.claims {
        if let Some(fd) = sock(Some(c.fd), SocketType::DGRAM).or_else(|| sock(Some(c.fd), SocketType::RAW)) {
            claims.push((crate::sys::claims::ClaimSocket::adopt(fd, c.ifindex, c.v6), c.vips));
        }
    }
    Inherited {
        snapshot: h.snapshot,
        taken: h.taken,
        vrrp,
        announcer,
        claims,
        control: sock(h.control, SocketType::STREAM),
        metrics: sock(h.metrics, SocketType::STREAM),
        client: sock(h.client, SocketType::STREAM),
    }
}

/// `upgrade` on the control socket. Returns the answer for the client:
/// only on failure, since success replaces this image (the new one
/// answers).
pub(super) async fn request(d: &Rc<RefCell<Daemon>>, client: BorrowedFd<'_>) -> String {
    let me = rustix::process::geteuid().as_raw();
    match rustix::net::sockopt::socket_peercred(client) {
        Ok(c) if c.uid.as_raw() == 0 || c.uid.as_raw() == me => {}
        _ => return "error: permission denied (upgrade: root or the daemon's user only)\n".to_owned(),
    }
    let (exe, config, id) = {
        let mut dm = d.borrow_mut();
        if dm.upgrade.busy {
            return "error: an upgrade is already running\n".to_owned();
        }
        let Some(exe) = dm.upgrade.exe.clone() else {
            return "error: the path this daemon was started from is unknown\n".to_owned();
        };
        dm.upgrade.busy = true;
        log!(dm.log, "upgrade: checking {} with {}", dm.upgrade.config.display(), exe.display());
        if let Some(sd) = &dm.sd {
            sd.send("RELOADING=1\nSTATUS=upgrading");
        }
        (exe, dm.upgrade.config.clone(), dm.upgrade.config_id.clone())
    };
    let result = match check(&exe, &config, &id).await {
        Ok(()) => exec(&mut d.borrow_mut(), &exe, client),
        Err(e) => e,
    };
    let dm = &mut *d.borrow_mut();
    dm.upgrade.busy = false;
    log!(dm.log, "upgrade: {}; carrying on", result.trim_end());
    if let Some(sd) = &dm.sd {
        sd.send("READY=1\nSTATUS=running");
    }
    format!("error: {result}")
}

/// `NEW -t -f CONF -i ID` in a child, waited for without blocking the
/// loop; its output goes to a memfd (no pipe to keep drained).
async fn check(exe: &Path, config: &Path, id: &str) -> Result<(), String> {
    let out = inherit::memfd("vipd-upgrade-check").map_err(|e| format!("memfd: {e}\n"))?;
    let (o1, o2) = (out.try_clone(), out.try_clone());
    let (Ok(o1), Ok(o2)) = (o1, o2) else { return Err("cannot duplicate the output fd\n".to_owned()) };
    let mut child = std::process::Command::new(exe)
        .arg("-t")
        .arg("-f")
        .arg(config)
        .arg("-i")
        .arg(id)
        .env(ENV_CHECK, handover::VERSION.to_string())
        .env_remove(ENV_FD)
        .stdin(std::process::Stdio::null())
        .stdout(o1)
        .stderr(o2)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}\n", exe.display()))?;
    let pid = child.id() as i32;
    crate::sys::script::hold(pid);
    let start = clock::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if clock::now().saturating_since(start).to_std() > CHECK_TIME => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("{} -t did not finish within {} s\n", exe.display(), CHECK_TIME.as_secs()));
            }
            Ok(None) => {
                Timer::after(std::time::Duration::from_millis(2)).await;
            }
            Err(e) => break Err(format!("waiting for {} -t: {e}\n", exe.display())),
        }
    };
    crate::sys::script::release(pid);
    let status = status?;
    if status.success() {
        return Ok(());
    }
    let text = inherit::read_all(out.as_fd(), 1 << 20).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(CHECK_OUTPUT)..];
    let tail = String::from_utf8_lossy(tail);
    let mut msg = format!("{} -t -f {} failed ({status})", exe.display(), config.display());
    if !tail.trim().is_empty() {
        msg.push_str(":\n");
        msg.push_str(tail.trim_end());
    }
    msg.push('\n');
    Err(msg)
}

/// Snapshot, fds, `execve`. Returns why it failed, with every fd flag
/// restored: this image carries on as it was.
fn exec(d: &mut Daemon, exe: &Path, client: BorrowedFd<'_>) -> String {
    let h = Handover {
        taken: clock::now(),
        snapshot: d.engine.export(),
        vrrp: d
            .sockets
            .iter()
            .map(|s| handover::KeptSocket {
                fd: s.as_fd().as_raw_fd(),
                ifindex: s.ifindex(),
                family: s.family(),
                groups: s.groups().to_vec(),
            })
            .collect(),
        announcer: {
            let (p, i) = d.announcer.fds();
            Some((p.as_raw_fd(), i.map(|i| i.as_raw_fd())))
        },
        claims: d
            .claims
            .iter()
            .map(|w| handover::KeptClaims {
                fd: w.sock.as_fd().as_raw_fd(),
                ifindex: w.sock.ifindex(),
                v6: w.sock.is_v6(),
                vips: w.vips.clone(),
            })
            .collect(),
        control: d.upgrade.control_fd,
        metrics: d.upgrade.metrics_fd,
        client: Some(client.as_raw_fd()),
    };
    let bytes = handover::encode(&h);
    let memfd = match inherit::memfd("vipd-upgrade").and_then(|m| inherit::write_all(m.as_fd(), &bytes).map(|()| m)) {
        Ok(m) => m,
        Err(e) => return format!("snapshot memfd: {e}\n"),
    };
    let mut kept: Vec<BorrowedFd<'_>> = d.sockets.iter().map(|s| s.as_fd()).collect();
    let (packet, icmp6) = d.announcer.fds();
    kept.push(packet);
    kept.extend(icmp6);
    kept.extend(d.claims.iter().map(|w| w.sock.as_fd()));
    for fd in [h.control, h.metrics].into_iter().flatten() {
        // SAFETY: the listeners' fds, owned by the loop's tasks, which
        // outlive this synchronous call.
        kept.push(unsafe { BorrowedFd::borrow_raw(fd) });
    }
    kept.push(client);
    kept.push(memfd.as_fd());
    let mut flagged = 0;
    let mut failed = None;
    for fd in &kept {
        match inherit::set_inherit(*fd, true) {
            Ok(()) => flagged += 1,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    let err = match failed {
        Some(e) => format!("cannot keep the sockets open across exec: {e}\n"),
        None => {
            let mut env: Vec<(OsString, OsString)> = std::env::vars_os().filter(|(k, _)| k != ENV_FD).collect();
            env.push((ENV_FD.into(), memfd.as_raw_fd().to_string().into()));
            log!(
                d.log,
                "upgrade: executing {} ({} instance(s) handed over)",
                exe.display(),
                h.snapshot.instances.len()
            );
            let e = inherit::exec(exe, &d.upgrade.argv, &env);
            format!("exec {}: {e}\n", exe.display())
        }
    };
    for fd in &kept[..flagged] {
        let _ = inherit::set_inherit(*fd, false);
    }
    err
}

/// The version, with the build tag `VIPD_BUILD_TAG` set at compile time
/// (two builds of one tree told apart).
pub fn version() -> String {
    match option_env!("VIPD_BUILD_TAG") {
        Some(tag) if !tag.is_empty() => format!("{}+{tag}", env!("CARGO_PKG_VERSION")),
        _ => env!("CARGO_PKG_VERSION").to_owned(),
    }
}

impl Daemon {
    /// The engine's start in place of the previous image's (an upgrade).
    pub(super) fn start_from_snapshot(&mut self, now: crate::time::Instant, snap: &crate::core::Snapshot) {
        self.fx.clear();
        self.engine.start_from_snapshot(snap, now, &mut self.fx);
        self.apply(now);
        self.report_sends(now);
        self.rearm();
    }

    /// Running after an upgrade: the client that asked is told, and the
    /// time from the snapshot to now logged (the adverts' gap).
    pub(super) fn upgraded(&mut self) {
        let Some(i) = self.upgrade.inherited.as_mut() else { return };
        let took = clock::now().saturating_since(i.taken);
        let line = format!(
            "upgraded: vipd {} running as pid {}, {}.{:03} ms from snapshot to running\n",
            version(),
            std::process::id(),
            took.as_micros() / 1000,
            took.as_micros() % 1000
        );
        log!(self.log, "{}", line.trim_end());
        if let Some(c) = i.client.take() {
            let s = std::os::unix::net::UnixStream::from(c);
            let _ = s.set_nonblocking(true);
            let _ = std::io::Write::write_all(&mut &s, line.as_bytes());
        }
    }
}
