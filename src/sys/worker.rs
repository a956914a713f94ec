//! A short-lived helper thread for long pure work the event loop must not
//! wait for (reading and checking a configuration on SIGHUP). The result
//! goes into a shared slot; the end is signalled by closing a pipe, whose
//! read end the loop awaits through the reactor like any other fd, so the
//! thread never blocks on a full pipe and the loop never blocks on the
//! thread (no join: the thread is detached and ends on its own).
//!
//! The thread runs at normal scheduling (SCHED_OTHER) whatever the loop
//! runs at: a thread starts with its creator's policy, and vipd's loop may
//! be SCHED_RR (`sys::sched`), set with SCHED_RESET_ON_FORK or not (`chrt`).
//! Long work at real-time priority would compete with the loop on a small
//! machine and count against RLIMIT_RTTIME. It inherits the loop's blocked
//! signal mask, so the daemon's signals still reach only the signalfd.
//!
//! A bare `pthread_create` rather than `std::thread`: std's spawning
//! machinery (names, scopes, output capture, join packets) added 30 kB to
//! the static binary, whose budget is 1 MiB. A panic in the work aborts
//! the daemon, as one on the loop does.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use super::reactor::Async;

/// The thread's stack: reading a configuration recurses only through
/// nested blocks and includes (musl's default, 128 kB, is tight for a
/// debug build).
const STACK: usize = 1 << 20;

/// Work running on its thread; dropping it leaves the thread to finish,
/// and its result is then thrown away.
pub struct Worker<T> {
    done: Async<OwnedFd>,
    slot: Arc<Mutex<Option<T>>>,
}

/// What the new thread is handed, boxed.
struct Start<T, F> {
    work: F,
    slot: Arc<Mutex<Option<T>>>,
    done: OwnedFd,
}

extern "C" fn run<T, F: FnOnce() -> T>(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `spawn` passes a `Box<Start<T, F>>` it leaked for this thread
    // alone, and does not touch it once pthread_create succeeded.
    let start = unsafe { Box::from_raw(arg.cast::<Start<T, F>>()) };
    let Start { work, slot, done } = *start;
    // Lowering the policy needs no privilege; should it fail anyway, the
    // work is still better done than not.
    let _ = super::sched::set_normal();
    let v = work();
    if let Ok(mut s) = slot.lock() {
        *s = Some(v);
    }
    // After the result is in: the loop reads the slot once it wakes.
    drop(done);
    core::ptr::null_mut()
}

/// Starts `work` on a detached thread at normal scheduling.
pub fn spawn<T, F>(work: F) -> io::Result<Worker<T>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    use rustix::pipe::PipeFlags;
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let done = Async::new_nonblocking(r)?;
    let slot = Arc::new(Mutex::new(None));
    let start = Box::into_raw(Box::new(Start { work, slot: slot.clone(), done: w }));
    // SAFETY: the attribute object is initialised before use and destroyed
    // after; `run::<T, F>` takes exactly the `Start<T, F>` passed, which is
    // reclaimed here only if the thread was not created.
    let rc = unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        let mut rc = libc::pthread_attr_init(&mut attr);
        if rc == 0 {
            rc = libc::pthread_attr_setstacksize(&mut attr, STACK);
            if rc == 0 {
                rc = libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            }
            if rc == 0 {
                let mut tid: libc::pthread_t = core::mem::zeroed();
                rc = libc::pthread_create(&mut tid, &attr, run::<T, F>, start.cast());
            }
            libc::pthread_attr_destroy(&mut attr);
        }
        if rc != 0 {
            drop(Box::from_raw(start));
        }
        rc
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(Worker { done, slot })
}

impl<T> Worker<T> {
    /// Completes when the work has ended.
    pub async fn finished(&self) {
        // An error from the reactor (none is expected for a pipe) ends the
        // wait too: `take` then tells whether there is a result.
        let _ = self.done.readable().await;
    }

    /// The result, once [`Worker::finished`] completed.
    pub fn take(&self) -> Option<T> {
        self.slot.lock().ok()?.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::reactor::block_on;

    #[test]
    fn the_result_wakes_the_loop() {
        let w = spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            42
        })
        .expect("spawn");
        assert_eq!(w.take(), None, "no result before the work ends");
        block_on(w.finished()).expect("block_on");
        assert_eq!(w.take(), Some(42));
    }

    #[test]
    fn a_worker_of_a_real_time_thread_runs_at_normal_priority() {
        if !rustix::process::geteuid().is_root() {
            crate::sys::testkit::skip("needs CAP_SYS_NICE");
            return;
        }
        // A thread of its own at SCHED_RR 1 without SCHED_RESET_ON_FORK (as
        // `chrt -r 1 vipd` starts it), so plain threads inherit it.
        let (plain, worker) = std::thread::spawn(|| {
            // SAFETY: a zeroed sched_param is valid; pid 0 is this thread.
            let rc = unsafe {
                let mut p: libc::sched_param = core::mem::zeroed();
                p.sched_priority = 1;
                libc::syscall(libc::SYS_sched_setscheduler, 0, libc::SCHED_RR, &raw const p)
            };
            assert_eq!(rc, 0, "SCHED_RR 1: {}", io::Error::last_os_error());
            let plain = std::thread::spawn(crate::sys::sched::is_realtime).join().expect("plain thread");
            let w = spawn(crate::sys::sched::is_realtime).expect("spawn");
            block_on(w.finished()).expect("block_on");
            (plain, w.take())
        })
        .join()
        .expect("thread");
        assert!(plain, "a plain thread inherits SCHED_RR (else this test proves nothing)");
        assert_eq!(worker, Some(false), "the worker must run at SCHED_OTHER");
    }
}
