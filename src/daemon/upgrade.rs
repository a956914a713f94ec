//! `vipd upgrade`: the running daemon re-executes its binary in place (same
//! pid, so systemd and runit keep tracking it) and hands over its sockets
//! and its engine's state, so no election happens.
//!
//! The old image, on the request: checks the peer (root or our user only:
//! it changes what runs), sends RELOADING=1, runs `NEW -t -f CONF -i ID
//! --snapshot-format N` as a check script (bounded to 1.5 s) while the
//! loop goes on advertising, and on success takes a
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
//! The packet sockets (GARP/NA senders, ARP/NA watchers) are kept open
//! across the `execve` only to be closed on a worker thread by the new
//! image, which opens its own: closing one waits for an RCU grace period
//! (10-20 ms each, which made the `execve` take 30-40 ms). Netlink is
//! opened afresh (the start's netlink dump replaces
//! the events queued meanwhile); check scripts running at the
//! `execve` are abandoned (their verdicts carried over are enough), and
//! notify scripts in flight run on, their output and exit unreported.

use core::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::Daemon;
use super::handover::{self, Handover};
use crate::sys::clock;
use crate::sys::inherit;

/// The environment variable naming the memfd.
pub const ENV_FD: &str = "VIPD_UPGRADE_FD";
/// The snapshot format this binary writes and reads.
pub const SNAPSHOT_VERSION: u16 = handover::VERSION;
/// How long the new binary's configuration check may take: within the
/// control client's own time (`control::CLIENT_TIME`, 2 s), so the answer
/// still reaches it. `vipd -t` takes milliseconds even for large files.
const CHECK_TIME: std::time::Duration = std::time::Duration::from_millis(1500);
/// How much of the check's output the client is shown.
const CHECK_OUTPUT: usize = 2000;

/// What an upgrade needs to know about how this image was started, and
/// the fds of the listeners the loop owns.
#[derive(Default)]
pub(super) struct Upgrade {
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
    pub(super) control: Option<OwnedFd>,
    pub(super) metrics: Option<OwnedFd>,
    pub(super) client: Option<OwnedFd>,
}

impl Upgrade {
    pub(super) fn new(opts: &super::Options) -> Upgrade {
        Upgrade { config: opts.config.clone(), config_id: opts.config_id.clone(), ..Upgrade::default() }
    }
}

/// The command line this process was started with, and the binary to run
/// with it: argv[0] when absolute, as service managers start daemons (a
/// package replaces the file there, or a symlink there is switched);
/// otherwise /proc/self/exe's target, whose " (deleted)" (the running
/// image's file was replaced) is dropped to name the file now there.
fn command_line() -> Option<(PathBuf, Vec<std::ffi::CString>)> {
    use std::os::unix::ffi::OsStrExt;
    let raw = std::fs::read("/proc/self/cmdline").ok()?;
    let argv: Vec<std::ffi::CString> =
        raw.strip_suffix(b"\0")?.split(|&b| b == 0).filter_map(|a| std::ffi::CString::new(a).ok()).collect();
    let first = Path::new(std::ffi::OsStr::from_bytes(argv.first()?.to_bytes()));
    if first.is_absolute() {
        return Some((first.to_path_buf(), argv));
    }
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let exe = exe.as_os_str().as_bytes();
    let exe = exe.strip_suffix(b" (deleted)").unwrap_or(exe);
    Some((PathBuf::from(std::ffi::OsStr::from_bytes(exe)), argv))
}

/// At start: the handover of a previous image, if this image is one's
/// `execve`. The variable is removed (scripts must not see it); a handover
/// that cannot be read is logged by the caller and the daemon starts as a
/// reload starts new instances.
pub fn take() -> Option<Result<Handover, String>> {
    let raw = std::env::var_os(ENV_FD)?;
    // SAFETY: called first thing in `run`, before any thread is started.
    unsafe { libc::unsetenv(c"VIPD_UPGRADE_FD".as_ptr()) };
    let num = raw.as_encoded_bytes().iter().try_fold(0i32, |n, &b| {
        b.is_ascii_digit().then(|| n.checked_mul(10)?.checked_add(i32::from(b - b'0'))).flatten()
    });
    let read = num
        .and_then(inherit::adopt)
        .ok_or("not an open fd")
        .and_then(|fd| inherit::read_all(fd.as_fd(), handover::MAX_LEN).map_err(|_| "unreadable"))
        .and_then(|b| handover::decode(&b));
    Some(read.map_err(|e| format!("the snapshot of {ENV_FD}: {e}")))
}

/// The handover's fds, adopted (what is not open is done without); the
/// ones kept only to be closed are closed off the loop.
pub(super) fn adopt(h: Handover) -> Inherited {
    let mut vrrp = Vec::new();
    for k in h.vrrp {
        let Some(fd) = inherit::adopt(k.fd) else { continue };
        if let Ok(s) = crate::sys::vrrp::VrrpSocket::adopt(fd, k.ifindex, k.family, &k.groups) {
            vrrp.push(s);
        }
    }
    inherit::close_aside(h.close.into_iter().filter_map(inherit::adopt).collect());
    Inherited {
        snapshot: h.snapshot,
        taken: h.taken,
        vrrp,
        control: h.control.and_then(inherit::adopt),
        metrics: h.metrics.and_then(inherit::adopt),
        client: h.client.and_then(inherit::adopt),
    }
}

/// `upgrade` on the control socket. Returns the answer for the client:
/// only on failure, since success replaces this image (the new one
/// answers).
pub(super) async fn request(d: &Rc<RefCell<Daemon>>, client: BorrowedFd<'_>) -> String {
    let me = rustix::process::geteuid().as_raw();
    let uid = rustix::net::sockopt::socket_peercred(client).map_or(u32::MAX, |c| c.uid.as_raw());
    let (exe, argv, config, id) = {
        let mut dm = d.borrow_mut();
        let refused = if uid != 0 && uid != me {
            "permission denied (upgrade: root or the daemon's user only)"
        } else if dm.dry.is_some() {
            // Nothing to keep: a dry run holds no address; restart it.
            "a dry run is not upgraded in place (restart it)"
        } else if dm.upgrade.busy {
            "an upgrade is already running"
        } else {
            ""
        };
        let (exe, argv) = match (command_line(), refused) {
            (Some(c), "") => c,
            (None, "") => return "error: cannot read this daemon's command line\n".to_owned(),
            (_, why) => return format!("error: {why}\n"),
        };
        dm.upgrade.busy = true;
        log!(dm.log, "upgrade: checking with {}", exe.display());
        if let Some(sd) = &dm.sd {
            sd.send("RELOADING=1");
        }
        (exe, argv, dm.upgrade.config.clone(), dm.upgrade.config_id.clone())
    };
    let result = match check(&exe, &config, &id).await {
        Ok(()) => exec(&mut d.borrow_mut(), &exe, &argv, client),
        Err(e) => e,
    };
    let dm = &mut *d.borrow_mut();
    dm.upgrade.busy = false;
    log!(dm.log, "upgrade: {}; carrying on", result.trim_end());
    if let Some(sd) = &dm.sd {
        sd.send("READY=1");
    }
    format!("error: {result}")
}

/// `NEW -t -f CONF -i ID --snapshot-format N` as a check script is run
/// (its own process group, bounded in time, output kept), while the loop
/// goes on.
async fn check(exe: &Path, config: &Path, id: &str) -> Result<(), String> {
    let p = crate::sys::script::Prepared {
        argv: vec![exe.to_string_lossy().into_owned(), "-t".into(), "-f".into(), config.to_string_lossy().into_owned()],
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        user: String::new(),
    };
    let version = handover::VERSION.to_string();
    let (_keep, never) = smol::channel::bounded::<()>(1);
    let mut out = String::new();
    let mut sink = |line: &str| {
        if out.len() < CHECK_OUTPUT {
            out.push_str(line);
            out.push('\n');
        }
    };
    let extra = ["-i", id, "--snapshot-format", &version];
    let exit = crate::sys::script::run(&p, &extra, Some(CHECK_TIME), &never, Some(&mut sink)).await;
    if exit.success() {
        return Ok(());
    }
    let how = super::scripts::describe(&exit);
    Err(format!(
        "{} -t -f {} failed ({how}){}{}",
        exe.display(),
        config.display(),
        if out.is_empty() { "" } else { ":\n" },
        out
    ))
}

/// Snapshot, fds, `execve`. Returns why it failed, with every fd flag
/// restored: this image carries on as it was.
fn exec(d: &mut Daemon, exe: &Path, argv: &[std::ffi::CString], client: BorrowedFd<'_>) -> String {
    // The check child just held the loop, and the new image needs a few
    // milliseconds before its first advert (the configuration, a netlink
    // dump): every master advertises now, and the snapshot carries that
    // phase, so the gap a backup sees starts here.
    d.advertise_early();
    let (packet, icmp6) = d.announcer.fds();
    let mut h = Handover {
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
        control: d.upgrade.control_fd,
        metrics: d.upgrade.metrics_fd,
        client: Some(client.as_raw_fd()),
        close: d.claims.iter().map(|w| w.sock.as_fd().as_raw_fd()).collect(),
    };
    h.close.extend([packet].into_iter().chain(icmp6).map(|f| f.as_raw_fd()));
    let memfd = match inherit::memfd("vipd-upgrade")
        .and_then(|m| inherit::write_all(m.as_fd(), &handover::encode(&h)).map(|()| m))
    {
        Ok(m) => m,
        Err(e) => return format!("snapshot: {e}\n"),
    };
    let mut kept: Vec<i32> = h.vrrp.iter().map(|k| k.fd).chain(h.close.iter().copied()).collect();
    kept.extend([h.control, h.metrics, h.client, Some(memfd.as_raw_fd())].into_iter().flatten());
    let flagged = kept.iter().take_while(|&&fd| inherit::set_inherit(fd, true).is_ok()).count();
    let e = if flagged < kept.len() {
        io::Error::last_os_error()
    } else {
        log!(d.log, "upgrade: executing {}", exe.display());
        inherit::exec(exe, argv, ENV_FD, &memfd.as_raw_fd().to_string())
    };
    for &fd in &kept[..flagged] {
        let _ = inherit::set_inherit(fd, false);
    }
    format!("exec {}: {e}\n", exe.display())
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
            "upgraded: vipd {} running as pid {}, {} µs from snapshot to running\n",
            version(),
            std::process::id(),
            took.as_micros()
        );
        log!(self.log, "{}", line.trim_end());
        if let Some(c) = i.client.take() {
            let s = std::os::unix::net::UnixStream::from(c);
            let _ = s.set_nonblocking(true);
            let _ = std::io::Write::write_all(&mut &s, line.as_bytes());
        }
    }
}
