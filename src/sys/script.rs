//! Scripts: check scripts (`vrrp_script`) and notify scripts.
//!
//! Two halves. [`prepare`] runs at config load: it resolves who a script runs
//! as and which file it is, and finds files a non-root user could change under
//! a root-run script (keepalived-reference §3.7). [`run`] starts a prepared
//! script and supervises it from the single-threaded executor without ever
//! blocking it: the exit is watched through a pidfd, the output through a
//! non-blocking pipe, and a timeout or a cancellation stops the script's whole
//! process group (TERM, then KILL after [`KILL_GRACE`]). Every child is
//! reaped, also when a `run` future is dropped half-way.

use std::ffi::{CStr, CString, OsStr, c_char, c_int};
use std::fs::Metadata;
use std::io::{self, PipeReader, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::reactor::{Async, Timer};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions, WaitIdStatus};
use smol::channel::{Receiver, TryRecvError};
use smol::future;

use crate::config::{Config, Globals, Notify, Script, ScriptUser};

/// A script ready to run: `argv[0]` an absolute, canonical path; identity resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// The command; `argv[0]` is the canonical path of the file.
    pub argv: Vec<String>,
    /// User and group the script runs as.
    pub uid: u32,
    pub gid: u32,
    /// Name of that user, for log lines.
    pub user: String,
}

/// keepalived's default script user, used (when it exists) by a root daemon
/// for scripts that name no user.
const DEFAULT_USER: &str = "keepalived_script";

/// `$PATH` when the environment has none (keepalived's and most shells' list).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How bad a problem found by [`prepare`] is; [`check_config`] ranks
/// notify-script problems by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Unknown user or group, empty command: the configuration is wrong.
    Config,
    /// Missing, not a regular file, not executable: the disk is wrong, and
    /// may be fixed without touching the configuration.
    File,
    /// Insecure while `enable_script_security` is on.
    Insecure,
}

struct Problem {
    kind: Kind,
    msg: String,
}

/// Resolves `script.user`, else `globals.script_user`, else the default user:
/// `keepalived_script` if that user exists, else root (keepalived's rule).
/// A vipd that does not run as root cannot switch users, so there the
/// default is vipd's own user and group.
///
/// `argv[0]` without a `/` is searched in `$PATH` (a built-in list when
/// `$PATH` is unset), then canonicalised. Errors name the path or user: an
/// unknown user or group, a missing file, not a regular file, not executable
/// by the resolved uid/gid.
///
/// When the script runs as root, or the file is setuid/setgid root, every
/// component of its path must be unchangeable by non-root users; a finding
/// is an error with `globals.enable_script_security` and the returned
/// warning otherwise.
pub fn prepare(script: &Script, globals: &Globals) -> Result<(Prepared, Option<String>), String> {
    prepare_kind(script, globals).map_err(|p| p.msg)
}

fn prepare_kind(script: &Script, globals: &Globals) -> Result<(Prepared, Option<String>), Problem> {
    let Some((cmd, args)) = script.argv.split_first() else {
        return Err(Problem { kind: Kind::Config, msg: "the command is empty".to_owned() });
    };
    let id = identity(script.user.as_ref().or(globals.script_user.as_ref()))
        .map_err(|msg| Problem { kind: Kind::Config, msg })?;
    let (path, meta) = locate(cmd, &id).map_err(|msg| Problem { kind: Kind::File, msg })?;
    let mut warning = None;
    if let Some(finding) = security(&path, &meta, id.uid) {
        if globals.enable_script_security {
            return Err(Problem { kind: Kind::Insecure, msg: finding });
        }
        warning = Some(finding);
    }
    let program = path
        .into_os_string()
        .into_string()
        .map_err(|p| Problem { kind: Kind::File, msg: format!("`{}` is not valid UTF-8", p.display()) })?;
    let mut argv = Vec::with_capacity(script.argv.len());
    argv.push(program);
    argv.extend(args.iter().cloned());
    Ok((Prepared { argv, uid: id.uid, gid: id.gid, user: id.user }, warning))
}

/// Prepares every script the configuration will run and returns the
/// problems found, as `(is_error, message)`; each message starts with where
/// the script is configured: "vrrp_script \`chk\`: …", "vrrp_instance
/// \`VI_1\` notify_master: …", "vrrp_sync_group \`G\` notify: …",
/// "global_defs notify_fifo_script: …".
///
/// Check scripts count only when an instance tracks them; a missing or
/// non-executable one is an error, because it decides elections. A missing
/// or non-executable notify script is a warning (it can appear on disk
/// later). An insecure script of either kind is an error only with
/// `enable_script_security`; an unknown user or group is always an error.
pub fn check_config(cfg: &Config) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let g = &cfg.globals;
    for (keyword, script) in
        [("notify_fifo_script", &g.notify_fifo_script), ("vrrp_notify_fifo_script", &g.vrrp_notify_fifo_script)]
    {
        if let Some(s) = script {
            report(&mut out, &format!("global_defs {keyword}"), s, g, false);
        }
    }
    let mut tracked = vec![false; cfg.trackers.len()];
    for r in cfg.instances.iter().flat_map(|i| &i.track) {
        if let Some(t) = tracked.get_mut(usize::from(r.tracker.0)) {
            *t = true;
        }
    }
    for (tracker, _) in cfg.trackers.iter().zip(&tracked).filter(|(_, t)| **t) {
        if let Some(check) = &tracker.script {
            report(&mut out, &format!("vrrp_script `{}`", tracker.name), &check.script, g, true);
        }
    }
    for inst in &cfg.instances {
        report_notify(&mut out, &format!("vrrp_instance `{}`", inst.name), &inst.notify, g);
    }
    for group in &cfg.sync_groups {
        report_notify(&mut out, &format!("vrrp_sync_group `{}`", group.name), &group.notify, g);
    }
    out
}

fn report_notify(out: &mut Vec<(bool, String)>, place: &str, n: &Notify, g: &Globals) {
    let scripts = [
        ("notify_master", &n.master),
        ("notify_backup", &n.backup),
        ("notify_fault", &n.fault),
        ("notify_stop", &n.stop),
        ("notify_deleted", &n.deleted),
        ("notify", &n.generic),
        ("notify_master_rx_lower_pri", &n.master_rx_lower_pri),
    ];
    for (keyword, script) in scripts {
        if let Some(s) = script {
            report(out, &format!("{place} {keyword}"), s, g, false);
        }
    }
}

fn report(out: &mut Vec<(bool, String)>, place: &str, script: &Script, g: &Globals, check: bool) {
    match prepare_kind(script, g) {
        Ok((_, None)) => {}
        // The issue and keepalived agree: without enable_script_security an
        // insecure script runs, with a warning.
        Ok((_, Some(warning))) => out.push((false, format!("{place}: {warning}"))),
        Err(p) => out.push((check || p.kind != Kind::File, format!("{place}: {}", p.msg))),
    }
}

/// Who a script runs as.
struct Identity {
    uid: u32,
    gid: u32,
    user: String,
    /// Supplementary groups the script keeps: vipd's own when no switch of
    /// user happens; none otherwise (std clears them when root sets a uid).
    groups: Vec<u32>,
}

fn identity(user: Option<&ScriptUser>) -> Result<Identity, String> {
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let (uid, gid, name) = match user {
        Some(u) => {
            let (uid, gid) = lookup_user(&u.user, u.group.as_deref())?;
            (uid, gid, u.user.clone())
        }
        None if euid != 0 => (euid, egid, user_name(euid)),
        None => match passwd_by_name(DEFAULT_USER)? {
            Some((uid, gid)) => (uid, gid, DEFAULT_USER.to_owned()),
            None => (0, 0, "root".to_owned()),
        },
    };
    let groups = if uid == euid && gid == egid {
        rustix::process::getgroups().map(|gs| gs.into_iter().map(|g| g.as_raw()).collect()).unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Identity { uid, gid, user: name, groups })
}

/// The canonical path of the file `cmd` names, and its metadata, once it is
/// a regular file `id` may execute.
fn locate(cmd: &str, id: &Identity) -> Result<(PathBuf, Metadata), String> {
    let found = if cmd.contains('/') { PathBuf::from(cmd) } else { search_path(cmd, id)? };
    let path = std::fs::canonicalize(&found).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => format!("`{}` does not exist", found.display()),
        _ => format!("cannot resolve `{}`: {e}", found.display()),
    })?;
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("`{}` is not a regular file", path.display()));
    }
    if !can_exec(id, meta.uid(), meta.gid(), meta.mode()) {
        return Err(format!(
            "`{}` is not executable by user `{}` (uid {}, gid {})",
            path.display(),
            id.user,
            id.uid,
            id.gid
        ));
    }
    Ok((path, meta))
}

/// The first executable `dir/cmd` along `$PATH`, else the first regular file
/// of that name (so the error says "not executable" rather than "not found").
fn search_path(cmd: &str, id: &Identity) -> Result<PathBuf, String> {
    let var = std::env::var_os("PATH");
    let dirs = var.as_deref().unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut first_file = None;
    for dir in std::env::split_paths(dirs) {
        // Empty and relative entries would resolve against vipd's working
        // directory, which is no place to pick scripts up from.
        if dir.is_relative() {
            continue;
        }
        let candidate = dir.join(cmd);
        let Ok(meta) = std::fs::metadata(&candidate) else { continue };
        if !meta.is_file() {
            continue;
        }
        if can_exec(id, meta.uid(), meta.gid(), meta.mode()) {
            return Ok(candidate);
        }
        first_file.get_or_insert(candidate);
    }
    first_file.ok_or_else(|| format!("`{cmd}` not found in PATH ({})", dirs.display()))
}

/// The kernel's permission rule on mode bits: root needs any x bit; others
/// get the owner's bits if they own the file, else the group's if they are
/// in its group, else the others' bits. ACLs are not consulted.
fn can_exec(id: &Identity, owner: u32, group: u32, mode: u32) -> bool {
    if id.uid == 0 {
        return mode & 0o111 != 0;
    }
    let bit = if owner == id.uid {
        0o100
    } else if group == id.gid || id.groups.contains(&group) {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

/// A finding when a script that runs with root rights sits on a path a
/// non-root user could change.
fn security(path: &Path, meta: &Metadata, uid: u32) -> Option<String> {
    let mode = meta.mode();
    let setid_root = (mode & libc::S_ISUID != 0 && meta.uid() == 0) || (mode & libc::S_ISGID != 0 && meta.gid() == 0);
    if uid != 0 && !setid_root {
        return None;
    }
    let how = if uid == 0 { "runs as root" } else { "is setuid/setgid root" };
    path.ancestors().find_map(|component| {
        let why = match std::fs::metadata(component) {
            Ok(m) => insecure(m.uid(), m.gid(), m.mode())?,
            // Fail closed: what cannot be inspected cannot be trusted.
            Err(e) => format!("cannot be checked ({e})"),
        };
        Some(format!("insecure: `{}` {how}, but `{}` {why}", path.display(), component.display()))
    })
}

/// Why a path component (the file or one of its directories) lets a non-root
/// user change what runs, if it does.
///
/// Stricter than counting write bits alone: a non-root owner can always
/// `chmod` the component writable, so any non-root owner is a finding. A
/// group- or world-writable directory with the sticky bit (`/tmp`) is not
/// one, as in keepalived: others may add entries there but cannot rename or
/// remove the root-owned entry below it, which is checked in its own right.
fn insecure(owner: u32, group: u32, mode: u32) -> Option<String> {
    let sticky_dir = mode & libc::S_IFMT == libc::S_IFDIR && mode & libc::S_ISVTX != 0;
    if owner != 0 {
        Some(format!("is owned by uid {owner}"))
    } else if sticky_dir {
        None
    } else if group != 0 && mode & 0o020 != 0 {
        Some(format!("is writable by group {group}"))
    } else if mode & 0o002 != 0 {
        Some("is writable by everyone".to_owned())
    } else {
        None
    }
}

/// (uid, gid) of `user`, with the gid of `group` when given and the user's
/// primary group otherwise. Errors name the unknown user or group. Names
/// only, as keepalived: a number is looked up as a name.
pub fn lookup_user(user: &str, group: Option<&str>) -> Result<(u32, u32), String> {
    let (uid, primary) = passwd_by_name(user)?.ok_or_else(|| format!("unknown user `{user}`"))?;
    let gid = match group {
        Some(g) => lookup_group(g)?.ok_or_else(|| format!("unknown group `{g}`"))?,
        None => primary,
    };
    Ok((uid, gid))
}

/// (uid, primary gid) of a user name; `None` when there is no such user.
fn passwd_by_name(name: &str) -> Result<Option<(u32, u32)>, String> {
    let cname = CString::new(name).map_err(|_| format!("user name `{name}` contains a NUL byte"))?;
    nss_lookup(
        // SAFETY: `nss_lookup` passes a writable entry, a buffer of `len`
        // bytes and a writable result pointer; `cname` is NUL-terminated.
        |entry, buf, len, result| unsafe { libc::getpwnam_r(cname.as_ptr(), entry, buf, len, result) },
        |pw: &libc::passwd| (pw.pw_uid, pw.pw_gid),
    )
    .map_err(|e| format!("cannot look up user `{name}`: {e}"))
}

/// gid of a group name; `None` when there is no such group.
fn lookup_group(name: &str) -> Result<Option<u32>, String> {
    let cname = CString::new(name).map_err(|_| format!("group name `{name}` contains a NUL byte"))?;
    nss_lookup(
        // SAFETY: as in `passwd_by_name`.
        |entry, buf, len, result| unsafe { libc::getgrnam_r(cname.as_ptr(), entry, buf, len, result) },
        |gr: &libc::group| gr.gr_gid,
    )
    .map_err(|e| format!("cannot look up group `{name}`: {e}"))
}

/// The name of `uid` for log lines, its number when it has none.
fn user_name(uid: u32) -> String {
    let name = nss_lookup(
        // SAFETY: as in `passwd_by_name`.
        |entry, buf, len, result| unsafe { libc::getpwuid_r(uid, entry, buf, len, result) },
        // SAFETY: on success `pw_name` points to a NUL-terminated string in
        // the buffer `nss_lookup` keeps alive while this runs.
        |pw: &libc::passwd| unsafe { CStr::from_ptr(pw.pw_name) }.to_string_lossy().into_owned(),
    );
    match name {
        Ok(Some(n)) => n,
        _ => uid.to_string(),
    }
}

/// Drives a reentrant passwd/group lookup (`get*_r`), growing its string
/// buffer on ERANGE; `read` sees the entry while the buffer is alive.
fn nss_lookup<T, R>(
    mut call: impl FnMut(*mut T, *mut c_char, usize, *mut *mut T) -> c_int,
    read: impl FnOnce(&T) -> R,
) -> io::Result<Option<R>> {
    const MAX_BUF: usize = 1 << 20;
    let mut buf = vec![0u8; 1024];
    loop {
        let mut entry = MaybeUninit::<T>::uninit();
        let mut result: *mut T = std::ptr::null_mut();
        match call(entry.as_mut_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut result) {
            0 if result.is_null() => return Ok(None),
            // SAFETY: success with a non-null result: the call filled `entry`
            // (which `result` points to) and its strings live in `buf`.
            0 => return Ok(Some(read(unsafe { &*result }))),
            libc::ERANGE if buf.len() < MAX_BUF => buf.resize(buf.len() * 2, 0),
            // getpwnam_r(3) lists these as "not found" on some systems.
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
            e => return Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited by itself with this status.
    Code(i32),
    /// Killed by this signal (not sent by the supervisor).
    Signal(i32),
    /// Stopped by the supervisor at the timeout.
    TimedOut,
    /// Stopped by the supervisor on request.
    Cancelled,
    /// Never ran, or its fate could not be watched; the reason.
    SpawnFailed(String),
}

impl Exit {
    /// Exit status 0, nothing else.
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

/// Grace between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(1);

/// Output lines handed over per run.
const MAX_LINES: usize = 64;
/// Bytes kept of each output line.
const MAX_LINE: usize = 512;
const READ_CHUNK: usize = 4096;
/// Reads per readiness wake-up: a script writing as fast as vipd reads must
/// not keep the executor from other tasks.
const READS_PER_WAKE: usize = 16;
/// Reads after the script exited: a pipe's default capacity (64 KiB) is all
/// it can have left behind; descendants still writing are not waited for.
const DRAIN_READS: usize = 16;

/// Runs `p` with `extra` args appended, until it exits, `timeout` passes
/// (`None`: no limit) or `cancel` yields a message or is closed (every sender
/// dropped). A timeout or cancellation sends SIGTERM to the script's process
/// group, then SIGKILL once the script has exited or after [`KILL_GRACE`],
/// whichever comes first, and ends the run as
/// [`Exit::TimedOut`] / [`Exit::Cancelled`] whatever the script's status. A
/// run whose `cancel` is already signalled does not start. One message
/// cancels one run; closing the channel cancels every run sharing it.
///
/// With `output`, the script's stdout and stderr (one pipe) are handed over
/// line by line: at most 64 lines, each cut to 512 bytes, lossy UTF-8, then
/// one line counting the bytes dropped; the rest is read and discarded so the
/// script never blocks on a full pipe. The run ends when the script itself
/// exits, even if background descendants keep the pipe open. Without
/// `output`, stdout and stderr are /dev/null; stdin always is.
///
/// Background processes of a script that exits by itself keep running; a
/// stopped script's whole group is killed. The script is reaped before this
/// returns, and also when this future is dropped (then with SIGKILL to its
/// group first).
pub async fn run(
    p: &Prepared,
    extra: &[&str],
    timeout: Option<Duration>,
    cancel: &Receiver<()>,
    output: Option<&mut dyn FnMut(&str)>,
) -> Exit {
    match cancel.try_recv() {
        Err(TryRecvError::Empty) => {}
        Ok(()) | Err(TryRecvError::Closed) => return Exit::Cancelled,
    }
    // Before the spawn: the new leader's pid may be one the list still
    // names (reaped by an orphan sweep, then reused).
    reap_killed();
    let program = p.argv.first().map_or("", String::as_str);
    let mut lines = output.map(Lines::new);
    let (pid, mut reader) = match spawn(p, extra, lines.is_some()) {
        Ok(spawned) => spawned,
        Err(e) => return Exit::SpawnFailed(e),
    };
    let mut leader = Leader::new(pid);
    let pidfd = match watch(pid) {
        Ok(fd) => fd,
        Err(e) => {
            leader.kill_and_reap();
            return Exit::SpawnFailed(format!("cannot watch `{program}`: {e}"));
        }
    };
    let mut buf = if lines.is_some() { vec![0u8; READ_CHUNK] } else { Vec::new() };
    let mut phase = Phase::Running;
    // Set once the supervisor starts stopping the script: the run's result.
    let mut stopped: Option<Exit> = None;
    let mut timer = timeout.map(Timer::after);
    loop {
        let cancel = (phase == Phase::Running).then_some(cancel);
        match next_event(&pidfd, reader.as_ref(), timer.as_mut(), cancel).await {
            Event::Output(ready) => {
                let open = ready
                    && match (&reader, &mut lines) {
                        (Some(r), Some(l)) => pump(r, &mut buf, l, READS_PER_WAKE),
                        _ => false,
                    };
                if !open {
                    reader = None;
                }
            }
            ev @ (Event::Deadline | Event::Cancel) => match phase {
                Phase::Running => {
                    stopped = Some(if ev == Event::Deadline { Exit::TimedOut } else { Exit::Cancelled });
                    leader.signal(Signal::TERM);
                    phase = Phase::Terminating;
                    timer = Some(Timer::after(KILL_GRACE));
                }
                Phase::Terminating => {
                    leader.signal(Signal::KILL);
                    phase = Phase::Killed;
                    timer = None;
                }
                Phase::Killed => timer = None,
            },
            Event::Exited(Ok(())) => {
                if phase != Phase::Running {
                    // Descendants that outlived or ignored the TERM. This must
                    // come before the reap: until then the zombie leader holds
                    // the group id, so it cannot name someone else's group.
                    leader.signal(Signal::KILL);
                }
                let status = match leader.try_reap(&pidfd) {
                    Ok(Some(status)) => exit_of(&status),
                    // Readiness without an exit to collect: wait again.
                    Ok(None) => continue,
                    Err(e) => Exit::SpawnFailed(format!("`{program}`: exit status lost: {e}")),
                };
                finish(reader.as_ref(), &mut buf, lines);
                return stopped.unwrap_or(status);
            }
            Event::Exited(Err(e)) => {
                // The reactor cannot watch the pidfd: stop waiting for the
                // script rather than for ever. After SIGKILL the blocking
                // reap returns at once.
                leader.kill_and_reap();
                finish(reader.as_ref(), &mut buf, lines);
                return stopped.unwrap_or_else(|| Exit::SpawnFailed(format!("cannot watch `{program}`: {e}")));
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// SIGTERM sent; the timer is the grace.
    Terminating,
    /// SIGKILL sent; only the exit is awaited.
    Killed,
}

#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// The pidfd became readable: the script exited (or polling failed).
    Exited(Result<(), io::ErrorKind>),
    /// The output pipe has data or EOF (false: polling failed).
    Output(bool),
    Deadline,
    Cancel,
}

async fn next_event(
    pidfd: &Async<OwnedFd>,
    reader: Option<&Async<PipeReader>>,
    timer: Option<&mut Timer>,
    cancel: Option<&Receiver<()>>,
) -> Event {
    let exited = async { Event::Exited(pidfd.readable().await.map_err(|e| e.kind())) };
    let output = async {
        match reader {
            Some(r) => Event::Output(r.readable().await.is_ok()),
            None => future::pending().await,
        }
    };
    let deadline = async {
        match timer {
            Some(t) => {
                t.await;
                Event::Deadline
            }
            None => future::pending().await,
        }
    };
    let cancelled = async {
        match cancel {
            Some(c) => {
                let _ = c.recv().await;
                Event::Cancel
            }
            None => future::pending().await,
        }
    };
    // The exit is polled first: a script that ended as its deadline passed
    // finished in time, and its status is worth more than the timeout.
    future::or(exited, future::or(output, future::or(deadline, cancelled))).await
}

/// Starts the script in its own process group. The pipe's read end, when
/// output is wanted, is returned already registered with the reactor.
fn spawn(p: &Prepared, extra: &[&str], capture: bool) -> Result<(Pid, Option<Async<PipeReader>>), String> {
    let Some((program, args)) = p.argv.split_first() else {
        return Err("the command is empty".to_owned());
    };
    let mut cmd = Command::new(program);
    cmd.args(args).args(extra).stdin(Stdio::null()).process_group(0);
    let reader = if capture {
        let pipe_err = |e: io::Error| format!("cannot create an output pipe for `{program}`: {e}");
        let (r, w) = io::pipe().map_err(pipe_err)?;
        let w2 = w.try_clone().map_err(pipe_err)?;
        cmd.stdout(w).stderr(w2);
        Some(Async::new(r).map_err(pipe_err)?)
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        None
    };
    // Only a real switch: a non-root vipd may not call setuid at all, even to
    // its own uid's groups, and need not.
    if p.uid != rustix::process::geteuid().as_raw() {
        cmd.uid(p.uid);
    }
    if p.gid != rustix::process::getegid().as_raw() {
        cmd.gid(p.gid);
    }
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe work is allowed: it makes two raw syscalls (prctl,
    // getppid), allocates nothing (errors are raw OS codes) and takes no lock.
    unsafe {
        cmd.pre_exec(move || die_with_parent(parent));
    }
    let child = cmd.spawn().map_err(|e| format!("cannot run `{program}`: {e}"))?;
    // `cmd`, dropped on return, holds this process's copies of the pipe's
    // write end: without that, EOF could never come.
    Ok((Pid::from_child(&child), reader))
}

/// In the child, before exec: an empty signal mask, and SIGTERM when vipd
/// dies, even by SIGKILL, so no script outlives it.
///
/// The mask matters: vipd blocks the signals it reads from its signalfd,
/// and a blocked mask survives exec. A script (or a service it starts)
/// would ignore SIGTERM; timeouts would always wait for the SIGKILL.
/// The death signal is set after std's setuid/setgid, which would clear it.
fn die_with_parent(parent: Pid) -> io::Result<()> {
    let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; pthread_sigmask reads it.
    // Both are async-signal-safe and allocate nothing.
    let rc = unsafe {
        libc::sigemptyset(empty.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, empty.as_ptr(), core::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))?;
    // vipd may have died between fork and prctl; no signal would then come.
    if rustix::process::getppid() != Some(parent) {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

/// A pidfd for `pid`, registered with the reactor: readable once it exits.
fn watch(pid: Pid) -> io::Result<Async<OwnedFd>> {
    // PIDFD_NONBLOCK needs Linux 5.10; the fd is only polled and reaped with
    // WNOHANG, so without the flag it works the same.
    let fd = match rustix::process::pidfd_open(pid, PidfdFlags::NONBLOCK) {
        Err(Errno::INVAL) => rustix::process::pidfd_open(pid, PidfdFlags::empty())?,
        fd => fd?,
    };
    Async::new_nonblocking(fd)
}

/// Whether orphans become vipd's children: it is process 1 (a container's
/// init) or a child subreaper. Then [`reap_orphans`] must run on SIGCHLD.
pub fn adopts_orphans() -> bool {
    rustix::process::getpid().is_init() || rustix::process::child_subreaper().is_ok_and(|p| p.is_some())
}

/// Reaps vipd's exited children that are not script leaders it supervises:
/// the background processes of scripts, reparented to vipd when it is
/// process 1 or a subreaper. Without this they would stay zombies. Returns
/// how many were reaped.
pub fn reap_orphans() -> usize {
    reap_killed();
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    let mut reaped = 0;
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        if LIVE.with(|l| l.borrow().contains(&pid)) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else { continue };
        let mut fields = after.split_whitespace();
        let (state, ppid) = (fields.next(), fields.next().and_then(|p| p.parse::<u32>().ok()));
        if state != Some("Z") || ppid != Some(me) {
            continue;
        }
        let Some(p) = Pid::from_raw(pid) else { continue };
        if let Ok(Some(_)) = rustix::process::waitid(WaitId::Pid(p), WaitIdOptions::EXITED | WaitIdOptions::NOHANG) {
            reaped += 1;
        }
    }
    reaped
}

/// The script's first process, whose pid is also its process group id.
/// Dropping it unreaped kills the group and reaps it, so an abandoned run
/// leaves no zombie and no stray script behind.
struct Leader {
    pid: Pid,
    reaped: bool,
}

thread_local! {
    /// Leaders not yet reaped: the orphan sweep must leave them to their
    /// own pidfds, which want their exit status.
    static LIVE: core::cell::RefCell<Vec<i32>> = const { core::cell::RefCell::new(Vec::new()) };
}

impl Leader {
    fn new(pid: Pid) -> Leader {
        LIVE.with(|l| l.borrow_mut().push(pid.as_raw_nonzero().get()));
        Leader { pid, reaped: false }
    }

    fn mark_reaped(&mut self) {
        self.reaped = true;
        let raw = self.pid.as_raw_nonzero().get();
        LIVE.with(|l| l.borrow_mut().retain(|&p| p != raw));
    }

    /// Signals the group and the leader. Only before the reap: until then
    /// the leader's pid, hence the group id, cannot belong to anyone else.
    fn signal(&self, sig: Signal) {
        // ESRCH, nobody left, is an expected outcome, not a failure.
        let _ = rustix::process::kill_process_group(self.pid, sig);
        // The leader may have moved itself out of its group.
        let _ = rustix::process::kill_process(self.pid, sig);
    }

    /// Collects the exit without blocking; `Ok(None)` while there is none.
    fn try_reap(&mut self, pidfd: &Async<OwnedFd>) -> Result<Option<WaitIdStatus>, Errno> {
        let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
        let result = match rustix::process::waitid(WaitId::PidFd(pidfd.get_ref().as_fd()), opts) {
            Err(Errno::INTR) => return Ok(None),
            // P_PIDFD needs Linux 5.4; the pid is still ours until reaped.
            Err(Errno::INVAL) => rustix::process::waitid(WaitId::Pid(self.pid), opts),
            other => other,
        };
        match result {
            Ok(Some(status)) => {
                self.mark_reaped();
                Ok(Some(status))
            }
            Ok(None) | Err(Errno::INTR) => Ok(None),
            Err(e) => {
                // ECHILD: reaped by someone else (a SIGCHLD sweep). The pid may
                // already name another process: never signal it again.
                self.mark_reaped();
                Err(e)
            }
        }
    }

    /// SIGKILL to the group, then a reap for paths that cannot wait
    /// asynchronously (a dropped run). A killed process normally exits
    /// within microseconds; one in uninterruptible sleep (a hung NFS read)
    /// only when its I/O ends, and waiting for that would stall the loop.
    /// So the wait is bounded and a leader still alive then is left to
    /// [`reap_killed`].
    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        self.signal(Signal::KILL);
        let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
        let mut dead = false;
        for _ in 0..KILL_WAIT_POLLS {
            match rustix::process::waitid(WaitId::Pid(self.pid), opts) {
                Ok(None) | Err(Errno::INTR) => std::thread::sleep(std::time::Duration::from_micros(100)),
                // Reaped now, or (ECHILD) by an orphan sweep already.
                Ok(Some(_)) | Err(_) => {
                    dead = true;
                    break;
                }
            }
        }
        self.mark_reaped();
        if !dead {
            KILLED.with(|k| k.borrow_mut().push(self.pid.as_raw_nonzero().get()));
        }
    }
}

/// How long [`Leader::kill_and_reap`] waits for a killed leader, in 100 µs
/// polls: 2 ms at most.
const KILL_WAIT_POLLS: usize = 20;

thread_local! {
    /// Killed leaders that had not exited within the bounded wait.
    static KILLED: core::cell::RefCell<Vec<i32>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// Reaps the killed leaders that have exited since [`Leader::kill_and_reap`]
/// gave up waiting; never blocks. Runs whenever a script starts and on the
/// orphan sweep. Returns how many are still alive.
pub fn reap_killed() -> usize {
    KILLED.with(|k| {
        k.borrow_mut().retain(|&raw| {
            // Reaped by an orphan sweep and the pid reused by a new run:
            // not ours to reap.
            if LIVE.with(|l| l.borrow().contains(&raw)) {
                return false;
            }
            let Some(pid) = Pid::from_raw(raw) else { return false };
            let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG;
            matches!(rustix::process::waitid(WaitId::Pid(pid), opts), Ok(None) | Err(Errno::INTR))
        });
        k.borrow().len()
    })
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

fn exit_of(status: &WaitIdStatus) -> Exit {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(sig)) => Exit::Signal(sig),
        // WEXITED reports exits and deaths by signal only; anything else
        // would be a kernel surprise, reported as an unnamed signal.
        (None, None) => Exit::Signal(0),
    }
}

/// Reads what the pipe holds, at most `max_reads` chunks. False once the
/// pipe is finished with (EOF or an error).
fn pump(reader: &Async<PipeReader>, buf: &mut [u8], lines: &mut Lines<'_>, max_reads: usize) -> bool {
    for _ in 0..max_reads {
        match (&mut reader.get_ref()).read(buf) {
            Ok(0) => return false,
            Ok(n) => lines.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return e.kind() == io::ErrorKind::WouldBlock,
        }
    }
    true
}

/// After the exit: what the pipe already holds, without waiting for
/// descendants that keep it open, then the closing lines.
fn finish(reader: Option<&Async<PipeReader>>, buf: &mut [u8], lines: Option<Lines<'_>>) {
    if let Some(mut lines) = lines {
        if let Some(r) = reader {
            pump(r, buf, &mut lines, DRAIN_READS);
        }
        lines.finish();
    }
}

/// Cuts output into bounded lines for the caller's callback.
struct Lines<'a> {
    sink: &'a mut dyn FnMut(&str),
    /// The line being collected, at most `MAX_LINE` bytes (one allocation).
    line: Vec<u8>,
    emitted: usize,
    dropped: u64,
}

impl<'a> Lines<'a> {
    fn new(sink: &'a mut dyn FnMut(&str)) -> Self {
        Lines { sink, line: Vec::with_capacity(MAX_LINE), emitted: 0, dropped: 0 }
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.emitted >= MAX_LINES {
                self.dropped += data.len() as u64;
                return;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (line, rest) = data.split_at(i);
                    self.push(line);
                    self.emit();
                    data = rest.get(1..).unwrap_or_default();
                }
                None => {
                    self.push(data);
                    return;
                }
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        let (keep, cut) = bytes.split_at(room.min(bytes.len()));
        self.line.extend_from_slice(keep);
        self.dropped += cut.len() as u64;
    }

    fn emit(&mut self) {
        let text = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        (self.sink)(&String::from_utf8_lossy(text));
        self.line.clear();
        self.emitted += 1;
    }

    fn finish(mut self) {
        // A last line without its newline.
        if !self.line.is_empty() {
            self.emit();
        }
        if self.dropped > 0 {
            let note = format!("[output cut: {} more bytes dropped]", self.dropped);
            (self.sink)(&note);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The reactor's block_on; a reactor failure fails the test.
    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        crate::sys::reactor::block_on(f).expect("reactor")
    }

    use super::*;
    use crate::config::{InstanceConfig, TrackRef, TrackerConfig, TrackerId};
    use crate::wire::vrrp::Version;
    use std::time::Instant;

    use crate::sys::testdir::TempDir;

    fn is_root() -> bool {
        rustix::process::geteuid().is_root()
    }

    /// A `/bin/sh -c` command run as ourselves. Scripts go through `-c`
    /// rather than files: exec'ing a freshly written file races with other
    /// test threads forking while it is open for writing (ETXTBSY).
    fn sh(script: &str) -> Prepared {
        Prepared {
            argv: vec!["/bin/sh".into(), "-c".into(), script.into()],
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            user: "test".into(),
        }
    }

    fn run_for(p: &Prepared, timeout: Option<Duration>) -> (Exit, Duration) {
        let (_tx, rx) = smol::channel::bounded(1);
        let start = Instant::now();
        let exit = block_on(run(p, &[], timeout, &rx, None));
        (exit, start.elapsed())
    }

    fn run_lines(p: &Prepared, timeout: Option<Duration>) -> (Exit, Vec<String>) {
        let (_tx, rx) = smol::channel::bounded(1);
        let mut lines = Vec::new();
        let mut sink = |l: &str| lines.push(l.to_owned());
        let exit = block_on(run(p, &[], timeout, &rx, Some(&mut sink)));
        (exit, lines)
    }

    fn read_pid(path: &Path) -> i32 {
        let text = std::fs::read_to_string(path).expect("pid file");
        text.trim().parse().expect("pid")
    }

    /// State letter and parent pid of `pid`, if it exists.
    fn proc_stat(pid: i32) -> Option<(char, i32)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, rest) = stat.rsplit_once(')')?;
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        Some((state, ppid))
    }

    /// `pid` is neither a live child nor an unreaped zombie of this process.
    fn not_our_child(pid: i32) -> bool {
        proc_stat(pid).is_none_or(|(_, ppid)| u32::try_from(ppid).ok() != Some(std::process::id()))
    }

    /// A process with that pid exists and is not a zombie. (Its name is no
    /// help: a background job is `sh` until its fork has exec'd `sleep`.)
    fn running(pid: i32) -> bool {
        proc_stat(pid).is_some_and(|(state, _)| state != 'Z')
    }

    fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        cond()
    }

    #[test]
    fn scripts_start_with_no_signal_blocked() {
        // vipd blocks the signals it reads from a signalfd; a script must not
        // inherit that (it would ignore SIGTERM). On a thread of its own, as
        // the mask is per thread.
        let lines = std::thread::spawn(|| {
            let mut set = MaybeUninit::<libc::sigset_t>::uninit();
            // SAFETY: set initialised by sigemptyset before use.
            unsafe {
                libc::sigemptyset(set.as_mut_ptr());
                libc::sigaddset(set.as_mut_ptr(), libc::SIGTERM);
                libc::sigaddset(set.as_mut_ptr(), libc::SIGHUP);
                libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), core::ptr::null_mut());
            }
            // grep itself, not through sh: a shell may reset its own mask.
            let grep =
                Prepared { argv: ["/bin/grep", "SigBlk", "/proc/self/status"].map(String::from).to_vec(), ..sh("") };
            run_lines(&grep, None).1
        })
        .join()
        .expect("thread");
        assert_eq!(lines, ["SigBlk:\t0000000000000000"]);
    }

    #[test]
    fn exit_codes_and_signals() {
        let dir = TempDir::new("codes");
        let pidfile = dir.join("pid");
        let ok = sh(&format!("echo $$ > {}; exit 0", pidfile.display()));
        let (exit, _) = run_for(&ok, None);
        assert_eq!(exit, Exit::Code(0));
        assert!(exit.success());
        assert!(not_our_child(read_pid(&pidfile)), "leader left unreaped");

        let (exit, _) = run_for(&sh("exit 3"), None);
        assert_eq!(exit, Exit::Code(3));
        assert!(!exit.success());

        let (exit, _) = run_for(&sh(&format!("echo $$ > {}; kill -9 $$", pidfile.display())), None);
        assert_eq!(exit, Exit::Signal(9));
        assert!(!exit.success());
        assert!(not_our_child(read_pid(&pidfile)), "leader left unreaped");
    }

    #[test]
    fn extra_args_are_appended() {
        let p = sh("echo \"$0|$1|$2\"");
        let (_tx, rx) = smol::channel::bounded(1);
        let mut lines = Vec::new();
        let mut sink = |l: &str| lines.push(l.to_owned());
        let exit = block_on(run(&p, &["INSTANCE", "VI 1"], None, &rx, Some(&mut sink)));
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(lines, ["INSTANCE|VI 1|"]);
    }

    #[test]
    fn spawn_failure_names_the_program() {
        let p = Prepared { argv: vec!["/nonexistent/vipd-check".into()], ..sh("") };
        match run_for(&p, None).0 {
            Exit::SpawnFailed(msg) => assert!(msg.contains("/nonexistent/vipd-check"), "{msg}"),
            other => panic!("expected SpawnFailed, got {other:?}"),
        }
        let empty = Prepared { argv: Vec::new(), ..p };
        assert!(matches!(run_for(&empty, None).0, Exit::SpawnFailed(_)));
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = TempDir::new("timeout");
        let (bg, leader) = (dir.join("bg"), dir.join("leader"));
        let p = sh(&format!("echo $$ > {}; sleep 30 & echo $! > {}; sleep 30", leader.display(), bg.display()));
        let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
        assert_eq!(exit, Exit::TimedOut);
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "took {took:?}");
        assert!(not_our_child(read_pid(&leader)), "leader left unreaped");
        let bg = read_pid(&bg);
        assert!(wait_until(Duration::from_secs(2), || !running(bg)), "background sleep {bg} survived");
    }

    #[test]
    fn descendants_ignoring_term_die_with_the_leader() {
        let dir = TempDir::new("straggler");
        let bg = dir.join("bg");
        let p = sh(&format!("(trap '' TERM; exec sleep 30) & echo $! > {}; sleep 30", bg.display()));
        let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
        assert_eq!(exit, Exit::TimedOut);
        // The leader died of the TERM: no waiting out the grace for the rest.
        assert!(took < Duration::from_millis(300) + KILL_GRACE, "took {took:?}");
        let bg = read_pid(&bg);
        assert!(wait_until(Duration::from_secs(2), || !running(bg)), "TERM-proof sleep {bg} survived");
    }

    #[test]
    fn term_ignored_means_kill_after_grace() {
        let p = sh("trap '' TERM; sleep 30; exit 0");
        let (exit, took) = run_for(&p, Some(Duration::from_millis(300)));
        assert_eq!(exit, Exit::TimedOut);
        let expected = Duration::from_millis(300) + KILL_GRACE;
        assert!(took >= expected && took < expected + Duration::from_secs(1), "took {took:?}");
    }

    #[test]
    fn dropping_the_sender_cancels() {
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let start = Instant::now();
        let exit = block_on(future::or(run(&sh("sleep 30"), &[], None, &rx, None), async move {
            Timer::after(Duration::from_millis(200)).await;
            drop(tx);
            future::pending().await
        }));
        assert_eq!(exit, Exit::Cancelled);
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());
    }

    #[test]
    fn a_message_cancels_and_a_signalled_cancel_never_starts() {
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let p = sh("sleep 30");
        let ex = smol::LocalExecutor::new();
        let start = Instant::now();
        let exit = block_on(ex.run(async {
            let task = ex.spawn(run(&p, &[], Some(Duration::from_secs(20)), &rx, None));
            Timer::after(Duration::from_millis(100)).await;
            let _ = tx.send(()).await;
            task.await
        }));
        assert_eq!(exit, Exit::Cancelled);
        assert!(start.elapsed() < Duration::from_secs(1), "took {:?}", start.elapsed());

        let dir = TempDir::new("precancel");
        let marker = dir.join("ran");
        let _ = tx.try_send(());
        let p = sh(&format!("touch {}", marker.display()));
        assert_eq!(block_on(run(&p, &[], None, &rx, None)), Exit::Cancelled);
        drop(tx);
        assert_eq!(block_on(run(&p, &[], None, &rx, None)), Exit::Cancelled);
        assert!(!marker.exists(), "a cancelled run started");
    }

    #[test]
    fn dropped_run_kills_and_reaps() {
        let dir = TempDir::new("dropped");
        let (leader, bg) = (dir.join("leader"), dir.join("bg"));
        let p = sh(&format!("echo $$ > {}; sleep 30 & echo $! > {}; wait", leader.display(), bg.display()));
        let (_tx, rx) = smol::channel::bounded(1);
        let exit = block_on(future::or(run(&p, &[], None, &rx, None), async {
            // Until the script has written both pids.
            while std::fs::read_to_string(&bg).map_or(true, |s| !s.ends_with('\n')) {
                Timer::after(Duration::from_millis(10)).await;
            }
            Exit::Code(-100)
        }));
        assert_eq!(exit, Exit::Code(-100));
        // The drop reaped synchronously: nothing to wait for.
        assert!(not_our_child(read_pid(&leader)), "dropped run left its leader");
        let bg = read_pid(&bg);
        assert!(wait_until(Duration::from_secs(2), || !running(bg)), "background sleep {bg} survived");
    }

    /// A leader that outlived the bounded wait (stands for one in
    /// uninterruptible sleep, which a test cannot make): reaped by a later
    /// sweep, never waited for.
    #[test]
    // The reap under test is the wait.
    #[allow(clippy::zombie_processes)]
    fn killed_leaders_are_reaped_later() {
        let child = std::process::Command::new("sleep").arg("30").spawn().expect("spawn sleep");
        let pid = Pid::from_raw(child.id() as i32).expect("a pid");
        KILLED.with(|k| k.borrow_mut().push(pid.as_raw_nonzero().get()));
        assert_eq!(reap_killed(), 1, "alive, so still listed");
        let _ = rustix::process::kill_process(pid, Signal::KILL);
        assert!(wait_until(Duration::from_secs(2), || reap_killed() == 0), "the killed leader was not reaped");
        assert!(not_our_child(pid.as_raw_nonzero().get()), "left a zombie");
    }

    #[test]
    fn output_is_bounded() {
        let (exit, lines) = run_lines(&sh("i=1; while [ $i -le 100 ]; do echo line $i; i=$((i+1)); done"), None);
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(lines.len(), MAX_LINES + 1, "{lines:?}");
        assert_eq!(lines[0], "line 1");
        assert_eq!(lines[63], "line 64");
        // Lines 65..=99 are 8 bytes each with the newline, "line 100\n" 9.
        assert_eq!(lines[64], "[output cut: 289 more bytes dropped]");
    }

    #[test]
    fn a_megabyte_of_output_does_not_deadlock() {
        let p = sh("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo err >&2");
        let (exit, lines) = run_lines(&p, Some(Duration::from_secs(10)));
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(lines.len(), 3, "{:?}", lines.iter().map(|l| l.len()).collect::<Vec<_>>());
        assert_eq!(lines[0], "x".repeat(MAX_LINE));
        assert_eq!(lines[1], "err");
        assert_eq!(lines[2], format!("[output cut: {} more bytes dropped]", 1_048_576 - MAX_LINE));
        // Without a reader the same output goes to /dev/null.
        assert_eq!(run_for(&p, Some(Duration::from_secs(10))).0, Exit::Code(0));
    }

    #[test]
    fn background_child_holding_the_pipe_does_not_delay_the_end() {
        let dir = TempDir::new("holder");
        let bg = dir.join("bg");
        let p = sh(&format!("echo hi; sleep 30 & echo $! > {}; exit 4", bg.display()));
        let start = Instant::now();
        let (exit, lines) = run_lines(&p, Some(Duration::from_secs(10)));
        let took = start.elapsed();
        let bg = read_pid(&bg);
        let survived = running(bg);
        if survived {
            let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(bg).expect("pid"), Signal::KILL);
        }
        assert_eq!(exit, Exit::Code(4));
        assert_eq!(lines, ["hi"]);
        assert!(took < Duration::from_secs(2), "took {took:?}");
        // A script ending by itself leaves its background work alone.
        assert!(survived, "background sleep was killed");
    }

    #[test]
    fn runs_as_the_prepared_user() {
        if !is_root() {
            crate::sys::testdir::skip("switching users needs root");
            return;
        }
        let script = Script {
            argv: vec!["id".into(), "-u".into()],
            user: Some(ScriptUser { user: "nobody".into(), group: None }),
        };
        let Ok((p, _)) = prepare(&script, &Globals::default()) else {
            crate::sys::testdir::skip("no usable user `nobody`");
            return;
        };
        assert_ne!(p.uid, 0);
        let (exit, lines) = run_lines(&p, Some(Duration::from_secs(5)));
        assert_eq!(exit, Exit::Code(0));
        assert_eq!(lines, [p.uid.to_string()]);
    }

    #[test]
    fn lines_cut_long_lines_and_keep_a_last_partial_one() {
        let mut got = Vec::new();
        let mut sink = |l: &str| got.push(l.to_owned());
        let mut lines = Lines::new(&mut sink);
        let long = vec![b'a'; 1000];
        lines.feed(&long);
        lines.feed(b"\r\nshort\r\n\xff\xfe\nno newline");
        lines.finish();
        assert_eq!(
            got,
            [
                "a".repeat(512),
                "short".to_owned(),
                "\u{fffd}\u{fffd}".to_owned(),
                "no newline".to_owned(),
                "[output cut: 489 more bytes dropped]".to_owned()
            ]
        );
    }

    #[test]
    fn path_search_gives_a_canonical_absolute_path() {
        let script = Script { argv: vec!["sh".into(), "-c".into(), "true".into()], user: None };
        let (p, _) = prepare(&script, &Globals::default()).expect("sh on PATH");
        let path = Path::new(&p.argv[0]);
        assert!(path.is_absolute(), "{}", p.argv[0]);
        assert_eq!(std::fs::canonicalize(path).expect("exists"), path);
        assert_eq!(p.argv[1..], ["-c", "true"]);
        if !is_root() {
            assert_eq!(p.uid, rustix::process::geteuid().as_raw());
        }
        let missing = Script { argv: vec!["vipd-no-such-command-7f3a".into()], user: None };
        let err = prepare(&missing, &Globals::default()).expect_err("not on PATH");
        assert!(err.contains("vipd-no-such-command-7f3a") && err.contains("PATH"), "{err}");
    }

    #[test]
    fn file_problems_name_the_path() {
        let dir = TempDir::new("files");
        let g = Globals::default();
        let missing = dir.join("missing.sh");
        let err = prepare(&Script { argv: vec![missing.display().to_string()], user: None }, &g).expect_err("missing");
        assert!(err.contains(&missing.display().to_string()) && err.contains("does not exist"), "{err}");

        let plain = dir.file("plain.sh", "#!/bin/sh\n", 0o644);
        let err = prepare(&Script { argv: vec![plain.display().to_string()], user: None }, &g).expect_err("not exec");
        assert!(err.contains("plain.sh") && err.contains("not executable"), "{err}");

        let err = prepare(&Script { argv: vec![dir.0.display().to_string()], user: None }, &g).expect_err("a dir");
        assert!(err.contains("not a regular file"), "{err}");

        let unknown = Some(ScriptUser { user: "vipd-no-such-user-7f3a".into(), group: None });
        let good = dir.file("good.sh", "#!/bin/sh\n", 0o755);
        let err = prepare(&Script { argv: vec![good.display().to_string()], user: unknown }, &g).expect_err("user");
        assert!(err.contains("vipd-no-such-user-7f3a"), "{err}");
        let bad_group = Some(ScriptUser { user: "root".into(), group: Some("vipd-no-such-group-7f3a".into()) });
        let err = prepare(&Script { argv: vec![good.display().to_string()], user: bad_group }, &g).expect_err("group");
        assert!(err.contains("vipd-no-such-group-7f3a"), "{err}");
        let empty = prepare(&Script { argv: Vec::new(), user: None }, &g);
        assert!(empty.is_err());
    }

    #[test]
    fn world_writable_root_script_is_insecure() {
        let dir = TempDir::new("insecure");
        let path = dir.file("open.sh", "#!/bin/sh\n", 0o777);
        let script = Script { argv: vec![path.display().to_string()], user: None };
        let root = Some(ScriptUser { user: "root".into(), group: None });
        if !is_root() {
            // As ourselves (not root) the check does not apply.
            let (_, warning) = prepare(&script, &Globals::default()).expect("runs as us");
            assert_eq!(warning, None);
            crate::sys::testdir::skip("scripts run as root only when vipd is root");
            return;
        }
        let script = Script { user: root, ..script };
        let (p, warning) = prepare(&script, &Globals::default()).expect("a warning only");
        assert_eq!(p.uid, 0);
        let warning = warning.expect("insecure");
        assert!(warning.contains("insecure") && warning.contains("open.sh"), "{warning}");
        let strict = Globals { enable_script_security: true, ..Globals::default() };
        let err = prepare(&script, &strict).expect_err("refused");
        assert!(err.contains("open.sh"), "{err}");
        // A root-owned system shell passes the same check.
        let shell = Script { argv: vec!["/bin/sh".into()], user: script.user.clone() };
        let (_, warning) = prepare(&shell, &strict).expect("/bin/sh is secure");
        assert_eq!(warning, None);
    }

    #[test]
    fn insecure_components() {
        assert_eq!(insecure(0, 0, 0o100755), None);
        assert_eq!(insecure(0, 0, 0o040775), None, "root's group may write");
        assert!(insecure(1000, 0, 0o100500).is_some(), "a non-root owner can chmod");
        assert!(insecure(0, 100, 0o100775).is_some());
        assert_eq!(insecure(0, 100, 0o100755), None);
        assert!(insecure(0, 0, 0o100757).is_some());
        assert_eq!(insecure(0, 0, 0o041777), None, "a sticky directory like /tmp");
        assert!(insecure(0, 0, 0o040777).is_some(), "world-writable without the sticky bit");
        assert!(insecure(0, 0, 0o101777).is_some(), "the sticky bit means nothing on a file");
    }

    #[test]
    fn exec_permission_follows_the_classes() {
        let user = Identity { uid: 1000, gid: 1000, user: "u".into(), groups: vec![27] };
        assert!(can_exec(&user, 1000, 5, 0o744));
        assert!(!can_exec(&user, 1000, 1000, 0o677), "the owner class decides for the owner");
        assert!(can_exec(&user, 0, 1000, 0o750));
        assert!(can_exec(&user, 0, 27, 0o750), "a supplementary group");
        assert!(!can_exec(&user, 0, 5, 0o750));
        assert!(can_exec(&user, 0, 5, 0o701));
        let root = Identity { uid: 0, gid: 0, user: "root".into(), groups: Vec::new() };
        assert!(can_exec(&root, 5, 5, 0o001));
        assert!(!can_exec(&root, 0, 0, 0o644));
    }

    #[test]
    fn check_config_names_the_place() {
        let dir = TempDir::new("cfg");
        let missing = dir.join("missing.sh").display().to_string();
        let mut cfg = Config::default();
        cfg.trackers.push(TrackerConfig::script("chk", &[&missing]));
        cfg.trackers.push(TrackerConfig::script("unused", &[&missing]));
        let mut inst = InstanceConfig::new("VI_1", "eth0", 1, Version::V2, &[]);
        inst.track.push(TrackRef { tracker: TrackerId(0), weight: 0, reverse: false });
        inst.notify.master = Some(Script { argv: vec![missing.clone()], user: None });
        cfg.instances.push(inst);
        cfg.globals.notify_fifo_script = Some(Script { argv: vec![missing.clone()], user: None });
        cfg.sync_groups.push(crate::config::SyncGroupConfig {
            name: "G".into(),
            members: vec![0],
            notify: Notify {
                generic: Some(Script {
                    argv: vec!["/bin/sh".into()],
                    user: Some(ScriptUser { user: "vipd-no-such-user-7f3a".into(), group: None }),
                }),
                ..Notify::default()
            },
        });
        let found = check_config(&cfg);
        let has = |error: bool, prefix: &str| found.iter().any(|(e, m)| *e == error && m.starts_with(prefix));
        assert!(has(true, "vrrp_script `chk`: "), "{found:?}");
        assert!(has(false, "vrrp_instance `VI_1` notify_master: "), "{found:?}");
        assert!(has(false, "global_defs notify_fifo_script: "), "{found:?}");
        assert!(has(true, "vrrp_sync_group `G` notify: "), "{found:?}");
        assert!(!found.iter().any(|(_, m)| m.contains("unused")), "{found:?}");
        assert_eq!(found.len(), 4, "{found:?}");
    }
}
