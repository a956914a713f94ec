//! Supervising one run from the single-threaded executor without ever
//! blocking it: [`run`] watches the exit through a pidfd, the output pipe
//! and the timeout and cancellation, stops the process group (TERM, then
//! KILL after [`KILL_GRACE`]) and turns the wait status into an [`Exit`].
//! It must not block: a reap that could wait belongs in [`super::reap`].

use std::io::{self, PipeReader};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, WaitIdStatus};
use smol::channel::{Receiver, TryRecvError};
use smol::future;

use super::output::{Lines, READ_CHUNK, READS_PER_WAKE, finish, pump};
use super::reap::{Leader, reap_killed};
use super::spawn::{Spawned, spawn};
use super::{Exit, KILL_GRACE, Prepared};
use crate::sys::reactor::{Async, Timer};

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
    let Spawned { pid, pidfd, output: mut reader, failure } = match spawn(p, extra, lines.is_some()) {
        Ok(spawned) => spawned,
        Err(e) => return Exit::SpawnFailed(e),
    };
    let mut leader = Leader::new(pid);
    let pidfd = match watch(pid, pidfd) {
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
                    // 127 is also what a script exits with when it cannot
                    // run (`spawn`); only the report tells them apart.
                    Ok(Some(status)) => match exit_of(&status) {
                        Exit::Code(127) => failure.read(program).map_or(Exit::Code(127), Exit::SpawnFailed),
                        exit => exit,
                    },
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

/// The pidfd of `pid`, registered with the reactor: readable once it exits.
/// The one clone made, or a new one where the kernel did not make one.
fn watch(pid: Pid, pidfd: Option<OwnedFd>) -> io::Result<Async<OwnedFd>> {
    if let Some(fd) = pidfd {
        return Async::new_nonblocking(fd);
    }
    // PIDFD_NONBLOCK needs Linux 5.10; the fd is only polled and reaped with
    // WNOHANG, so without the flag it works the same.
    let fd = match rustix::process::pidfd_open(pid, PidfdFlags::NONBLOCK) {
        Err(Errno::INVAL) => rustix::process::pidfd_open(pid, PidfdFlags::empty())?,
        fd => fd?,
    };
    Async::new_nonblocking(fd)
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
