//! Starting a prepared script without waiting for it: argv, stdin/stdout/
//! stderr, the user and group switch, a process group of its own, normal
//! scheduling, an empty signal mask and a parent-death signal, then exec.
//! Nothing here waits for, signals or reaps the script; that is
//! [`super::supervise`]'s and [`super::reap`]'s work.
//!
//! Why not `std::process::Command`: its `spawn` blocks until the child has
//! exec'd (it reads an error pipe), and the child runs at normal priority
//! while vipd may run real-time, so on a busy machine the loop waited for
//! the scheduler to get round to a normal-priority process (adverts at
//! 10 ms came up to 25 ms apart under 200 scripts/s). Here the parent
//! returns as soon as the kernel has copied it; a child that cannot exec
//! exits with status 127, as a shell's would, after writing why into a
//! close-on-exec pipe that [`Failure::read`] looks at only once the child
//! has exited, so nothing ever waits for it.
//!
//! The child is a copy of vipd made by a bare `clone` (no `CLONE_VM`), so
//! libc does not know it exists: between clone and exec it makes raw
//! system calls only, and touches no lock and no allocator (another vipd
//! thread, the config worker, may hold the allocator's lock at the moment
//! of the copy). libc's `setuid` and friends are out for the same reason:
//! in a process that had threads they signal every thread libc knows of to
//! switch them too, and in the child those threads do not exist.

use std::ffi::{CString, c_char, c_int, c_long};
use std::io::{self, PipeReader};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;

use rustix::fs::{Mode, OFlags};
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, Signal};

use super::Prepared;
use crate::sys::reactor::Async;

/// A started script.
pub(super) struct Spawned {
    pub(super) pid: Pid,
    /// From `CLONE_PIDFD`; `None` on a kernel that ignored the flag
    /// (before 5.2), where the supervisor opens one.
    pub(super) pidfd: Option<OwnedFd>,
    /// The output pipe's read end, registered with the reactor, when output
    /// is wanted.
    pub(super) output: Option<Async<PipeReader>>,
    pub(super) failure: Failure,
}

/// The read end of the child's close-on-exec report pipe: empty when exec
/// succeeded, a [`Step`] and an errno when the child gave up before.
pub(super) struct Failure(OwnedFd);

impl Failure {
    /// Once the child has exited: why it never ran the script, if it did
    /// not. Never blocks (the pipe is non-blocking, and its only writer is
    /// gone by then).
    pub(super) fn read(&self, program: &str) -> Option<String> {
        let mut buf = [0u8; REPORT_LEN];
        match rustix::io::read(&self.0, &mut buf) {
            Ok(REPORT_LEN) => {}
            _ => return None,
        }
        let [s0, s1, s2, s3, e0, e1, e2, e3] = buf;
        let step = u32::from_ne_bytes([s0, s1, s2, s3]);
        let err = io::Error::from_raw_os_error(i32::from_ne_bytes([e0, e1, e2, e3]));
        let what = STEPS.get(step as usize).copied().unwrap_or("starting it");
        Some(match what {
            "" => format!("cannot run `{program}`: {err}"),
            what => format!("cannot run `{program}`: {what}: {err}"),
        })
    }
}

/// A step of the child's set-up, as reported through the pipe.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Step {
    Exec,
    Shell,
    Sched,
    Group,
    Groups,
    Gid,
    Uid,
    Stdio,
    Signals,
    DeathSignal,
    Orphaned,
}

/// What the log says about each [`Step`], in its order ("" for the exec
/// itself, whose errno says it all).
const STEPS: [&str; 11] = [
    "",
    "running it with /bin/sh",
    "resetting its scheduling",
    "giving it a process group",
    "clearing supplementary groups",
    "switching group",
    "switching user",
    "setting up its standard input and output",
    "resetting signals",
    "setting the parent-death signal",
    "vipd exited before it started",
];

/// Step and errno, native-endian.
const REPORT_LEN: usize = 8;

/// Everything the child needs, prepared before the clone so that the child
/// allocates nothing.
struct Plan<'a> {
    /// `/bin/sh`, the program, its arguments, null: the program runs from
    /// index 1, the shell fallback from 0.
    argv: &'a [*const c_char],
    envp: &'a [*const c_char],
    stdin: RawFd,
    /// Standard output and error: the pipe or /dev/null.
    output: RawFd,
    /// Only real switches: a non-root vipd may not call setuid at all, even
    /// to its own ids, and need not.
    uid: Option<u32>,
    gid: Option<u32>,
    sched: libc::sched_param,
    empty: libc::sigset_t,
    parent: Pid,
    report: BorrowedFd<'a>,
}

/// Starts the script in its own process group. Returns once the kernel
/// has created the child, whether or not it has run yet.
pub(super) fn spawn(p: &Prepared, extra: &[&str], capture: bool) -> Result<Spawned, String> {
    let Some(program) = p.argv.first() else {
        return Err("the command is empty".to_owned());
    };
    let fail = |e: io::Error| format!("cannot run `{program}`: {e}");
    let strings = std::iter::once("/bin/sh")
        .chain(p.argv.iter().map(String::as_str))
        .chain(extra.iter().copied())
        .map(CString::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("cannot run `{program}`: an argument holds a NUL byte"))?;
    let argv = pointers(&strings);
    // The environment as it is now, read under std's lock.
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    let envp = pointers(&env);

    let null = rustix::fs::open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| fail(e.into()))
        .and_then(|fd| above_stdio(fd).map_err(fail))?;
    let (output, writer) = if capture {
        let (r, w) = io::pipe().map_err(fail)?;
        (Some(Async::new(r).map_err(fail)?), Some(above_stdio(w.into()).map_err(fail)?))
    } else {
        (None, None)
    };
    let (report_r, report_w) =
        rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK).map_err(|e| fail(e.into()))?;
    let report_w = above_stdio(report_w).map_err(fail)?;

    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    // SAFETY: sched_param and sigset_t are plain integers, all-zero valid;
    // sigemptyset initialises the set without allocating.
    let (sched, empty) = unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(set.as_mut_ptr());
        (core::mem::zeroed::<libc::sched_param>(), set.assume_init())
    };
    let plan = Plan {
        argv: &argv,
        envp: &envp,
        stdin: null.as_raw_fd(),
        output: writer.as_ref().unwrap_or(&null).as_raw_fd(),
        uid: (p.uid != euid).then_some(p.uid),
        gid: (p.gid != egid).then_some(p.gid),
        sched,
        empty,
        parent: rustix::process::getpid(),
        report: report_w.as_fd(),
    };

    let mut pidfd: c_int = -1;
    // SAFETY: clone without CLONE_VM is fork: the child gets a copy of this
    // thread's stack and of all memory, and returns 0 here. It then runs
    // only `child`, which never returns (exec or _exit), makes raw system
    // calls only and reads `plan`, a valid copy in its own memory. The
    // third argument, where the kernel writes the pidfd (CLONE_PIDFD), is
    // the parent tid pointer on x86_64 and aarch64 alike; the stack
    // pointer 0 means "this stack, copied".
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PIDFD | libc::SIGCHLD) as c_long,
            0 as c_long,
            &raw mut pidfd,
            0 as c_long,
            0 as c_long,
        )
    };
    if rc == 0 {
        child(&plan);
    }
    if rc < 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    let pid = i32::try_from(rc).ok().and_then(Pid::from_raw).ok_or_else(|| fail(io::ErrorKind::InvalidData.into()))?;
    // The child does the same. Both, so that a signal to the group reaches
    // it whichever runs first; an error means the child already did it
    // (or exec'd).
    let _ = rustix::process::setpgid(Some(pid), Some(pid));
    // SAFETY: on success with CLONE_PIDFD the kernel stored a new fd here
    // that nothing else owns; -1 (left as set) when it ignored the flag.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    // `null`, `writer` and `report_w` close here: the pipes' write ends
    // are then the child's alone, so EOF comes when it is done with them.
    Ok(Spawned { pid, pidfd, output, failure: Failure(report_r) })
}

/// The pointers of `strings`, then the null that ends an exec vector.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(core::ptr::null())).collect()
}

/// `fd`, moved above 0, 1 and 2 if it is one of them (vipd started with
/// those closed), so that the child's dup2 onto them cannot overwrite it
/// or leave it close-on-exec.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    Ok(rustix::io::fcntl_dupfd_cloexec(&fd, 3)?)
}

/// The child, from clone to exec. Raw system calls only (see the module
/// note); any failure is reported through the pipe and ends in exit
/// status 127.
fn child(plan: &Plan<'_>) -> ! {
    let (step, errno) = match set_up(plan) {
        Ok(()) => exec(plan),
        Err(e) => e,
    };
    let mut report = [0u8; REPORT_LEN];
    let (s, e) = report.split_at_mut(4);
    s.copy_from_slice(&(step as u32).to_ne_bytes());
    e.copy_from_slice(&errno.to_ne_bytes());
    let _ = rustix::io::write(plan.report, &report);
    // SAFETY: _exit is the exit_group system call; nothing of vipd's (no
    // destructor, no atexit handler, no buffer) may run in the copy.
    unsafe { libc::_exit(127) }
}

/// The errno of the last failed libc call, read from this thread's copy.
fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EINVAL)
}

/// A raw system call's result: -1 is a failure at `step`.
fn check(rc: c_long, step: Step) -> Result<(), (Step, i32)> {
    if rc == -1 { Err((step, errno())) } else { Ok(()) }
}

fn set_up(plan: &Plan<'_>) -> Result<(), (Step, i32)> {
    // First, while still privileged: SCHED_OTHER, whatever vipd runs at
    // (`chrt -r` starts it SCHED_RR without SCHED_RESET_ON_FORK), and nice
    // 0. A script never competes with the loop at real-time priority.
    // SAFETY: raw syscall on this (the only) thread with a valid param.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_OTHER, &raw const plan.sched) };
    if rc == -1 && crate::sys::sched::is_realtime() {
        return Err((Step::Sched, errno()));
    }
    // Raising a positive nice needs privileges; a script then just runs
    // nicer, as vipd does.
    let _ = rustix::process::setpriority_process(None, 0);
    rustix::process::setpgid(None, None).map_err(|e| (Step::Group, e.raw_os_error()))?;
    if plan.uid.is_some() || plan.gid.is_some() {
        // vipd's own groups must not follow a script run as someone else.
        // SAFETY: raw syscall; a zero-length list needs no pointer.
        let rc = unsafe { libc::syscall(libc::SYS_setgroups, 0, core::ptr::null::<libc::gid_t>()) };
        // EPERM: no CAP_SETGID, hence no groups worth clearing either.
        if rc == -1 && errno() != libc::EPERM {
            return Err((Step::Groups, errno()));
        }
    }
    // Group before user: after setuid there is no right left to setgid.
    if let Some(gid) = plan.gid {
        // SAFETY: raw syscall (per thread; this is the only one).
        check(unsafe { libc::syscall(libc::SYS_setgid, gid) }, Step::Gid)?;
    }
    if let Some(uid) = plan.uid {
        // SAFETY: as above.
        check(unsafe { libc::syscall(libc::SYS_setuid, uid) }, Step::Uid)?;
    }
    for (from, to) in [(plan.stdin, 0), (plan.output, 1), (plan.output, 2)] {
        // SAFETY: dup2 onto 0..2 of fds above 2 (`above_stdio`) that are
        // open in this copy; it clears close-on-exec on the copies.
        check(c_long::from(unsafe { libc::dup2(from, to) }), Step::Stdio)?;
    }
    // std ignores SIGPIPE in vipd, and an ignored signal stays ignored
    // across exec; a script expects the default. (Handlers reset at exec.)
    // SAFETY: sigaction system call setting the default disposition; for
    // SIGPIPE neither glibc nor musl takes a lock.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err((Step::Signals, errno()));
    }
    // After the user switch, which clears it. SIGTERM when vipd dies, even
    // by SIGKILL, so no script outlives it.
    rustix::process::set_parent_process_death_signal(Some(Signal::TERM))
        .map_err(|e| (Step::DeathSignal, e.raw_os_error()))?;
    // vipd may have died before the prctl; no signal would then come.
    if rustix::process::getppid() != Some(plan.parent) {
        return Err((Step::Orphaned, libc::ESRCH));
    }
    // Last: vipd blocks the signals it reads from a signalfd, and a blocked
    // mask survives exec, so a script would ignore SIGTERM. A signal already
    // sent to the group (a timeout) is delivered here, and ends the child.
    // SAFETY: the rt_sigprocmask system call with an initialised set.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &raw const plan.empty, core::ptr::null_mut()) };
    if rc != 0 {
        return Err((Step::Signals, rc));
    }
    Ok(())
}

/// Execs the program; returns only on failure, with the step that failed.
fn exec(plan: &Plan<'_>) -> (Step, i32) {
    let Some(direct) = plan.argv.get(1..) else { return (Step::Exec, libc::EINVAL) };
    let (Some(&path), Some(&shell)) = (direct.first(), plan.argv.first()) else {
        return (Step::Exec, libc::EINVAL);
    };
    // SAFETY: execve system call; both vectors are null-terminated arrays of
    // NUL-terminated strings that `spawn` keeps alive (this is its copy).
    unsafe { libc::execve(path, direct.as_ptr(), plan.envp.as_ptr()) };
    let e = errno();
    if e != libc::ENOEXEC {
        return (Step::Exec, e);
    }
    // A file without `#!` (nor ELF header): the kernel refuses it, and
    // keepalived (through glibc's execvp) runs it with /bin/sh, as shells
    // do: `/bin/sh FILE ARGS`.
    // SAFETY: as above.
    unsafe { libc::execve(shell, plan.argv.as_ptr(), plan.envp.as_ptr()) };
    (Step::Shell, errno())
}
