//! The script's process group leader and every reap: [`Leader`] signals
//! the group and collects the leader's exit (never blocking for more than
//! a bounded 2 ms after SIGKILL), killed leaders that outlived that wait
//! are reaped later by [`reap_killed`], and [`reap_orphans`] reaps the
//! background processes reparented to vipd. Nothing here decides when a
//! script is stopped; [`super::supervise`] does.

use std::os::fd::{AsFd, OwnedFd};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, WaitIdStatus};

use crate::sys::reactor::Async;

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
pub(super) struct Leader {
    pid: Pid,
    reaped: bool,
}

thread_local! {
    /// Leaders not yet reaped: the orphan sweep must leave them to their
    /// own pidfds, which want their exit status.
    static LIVE: core::cell::RefCell<Vec<i32>> = const { core::cell::RefCell::new(Vec::new()) };
}

impl Leader {
    pub(super) fn new(pid: Pid) -> Leader {
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
    pub(super) fn signal(&self, sig: Signal) {
        // ESRCH, nobody left, is an expected outcome, not a failure.
        let _ = rustix::process::kill_process_group(self.pid, sig);
        // The leader may have moved itself out of its group.
        let _ = rustix::process::kill_process(self.pid, sig);
    }

    /// Collects the exit without blocking; `Ok(None)` while there is none.
    pub(super) fn try_reap(&mut self, pidfd: &Async<OwnedFd>) -> Result<Option<WaitIdStatus>, Errno> {
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
    pub(super) fn kill_and_reap(&mut self) {
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
    pub(super) static KILLED: core::cell::RefCell<Vec<i32>> = const { core::cell::RefCell::new(Vec::new()) };
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
