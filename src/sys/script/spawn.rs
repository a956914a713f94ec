//! Starting a prepared script: argv, stdin/stdout/stderr, the user and
//! group switch, a process group of its own, and in the child before exec an
//! empty signal mask and a parent-death signal. Nothing here waits for,
//! signals or reaps the script; that is [`super::supervise`]'s and
//! [`super::reap`]'s work.

use std::io::{self, PipeReader};
use std::mem::MaybeUninit;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use rustix::process::{Pid, Signal};

use super::Prepared;
use crate::sys::reactor::Async;

/// Starts the script in its own process group. The pipe's read end, when
/// output is wanted, is returned already registered with the reactor.
pub(super) fn spawn(p: &Prepared, extra: &[&str], capture: bool) -> Result<(Pid, Option<Async<PipeReader>>), String> {
    let Some((program, args)) = p.argv.split_first() else {
        return Err("the command is empty".to_owned());
    };
    let pipe_err = |e: io::Error| format!("cannot create an output pipe for `{program}`: {e}");
    let (reader, writer) = if capture {
        let (r, w) = io::pipe().map_err(pipe_err)?;
        (Some(Async::new(r).map_err(pipe_err)?), Some(w))
    } else {
        (None, None)
    };
    let start = |shell: bool| -> Result<std::process::Child, String> {
        let mut cmd = command(p, program, args, extra, shell);
        match &writer {
            Some(w) => {
                let w1 = w.try_clone().map_err(pipe_err)?;
                let w2 = w.try_clone().map_err(pipe_err)?;
                cmd.stdout(w1).stderr(w2);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        // `cmd`, dropped on return, holds this process's copies of the
        // pipe's write end: without that, EOF could never come.
        cmd.spawn().map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOEXEC) {
                ENOEXEC_MARK.to_owned()
            } else {
                format!("cannot run `{program}`: {e}")
            }
        })
    };
    // A file without `#!` (nor ELF header): the kernel refuses it, and
    // keepalived (through glibc's execvp) runs it with /bin/sh, as shells
    // do. Only on that refusal, so normal runs cost nothing extra.
    let child = match start(false) {
        Err(e) if e == ENOEXEC_MARK => start(true)?,
        other => other?,
    };
    drop(writer);
    Ok((Pid::from_child(&child), reader))
}

/// What `start` reports for ENOEXEC, to retry through the shell.
const ENOEXEC_MARK: &str = "ENOEXEC";

/// The command for `p`, run directly or, for a file the kernel cannot
/// execute, through /bin/sh.
fn command(p: &Prepared, program: &str, args: &[String], extra: &[&str], shell: bool) -> Command {
    let mut cmd = if shell {
        let mut c = Command::new("/bin/sh");
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args);
    cmd.args(extra).stdin(Stdio::null()).process_group(0);
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
    cmd
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
