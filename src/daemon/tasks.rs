//! The loop's two futures: the hot path, which polls the timer, netlink
//! and the VRRP sockets itself (through `dup`ed fds, so no borrow of the
//! daemon is held across an await), and the control task (signals,
//! reloads, readers restarted after the sockets changed, keepalived's data
//! and stats files). They only wait and dispatch to `Daemon`'s input
//! methods; the hot path must not allocate (the files are rendered only
//! when a signal asks for them).

use core::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use super::reload::Reloads;
use super::{Daemon, Options, ScriptTasks};
use crate::sys::reactor::Async;

pub(super) fn dup_async(fd: impl AsFd) -> io::Result<Async<OwnedFd>> {
    let dup = rustix::io::fcntl_dupfd_cloexec(fd, 0)?;
    Async::new_nonblocking(dup)
}

/// Copies of the VRRP sockets' fds, registered with the reactor, in the
/// daemon's socket order.
pub(super) fn socket_dups(d: &Rc<RefCell<Daemon>>) -> io::Result<Vec<Async<OwnedFd>>> {
    d.borrow().sockets.iter().map(|s| dup_async(s.as_fd())).collect()
}

/// The hot path: the timer, netlink and every VRRP socket, polled by the
/// loop's top-level future rather than by tasks. Their wakeups then reach
/// `block_on` directly instead of passing through the executor's run
/// queue, which allocates a block every few dozen wakeups; a steady master
/// or backup allocates nothing.
///
/// Each ready source is served once per wakeup (a socket drains at most 64
/// packets), so one busy input cannot starve the others or the signals;
/// sockets come before the timer.
pub(super) async fn hot_path(
    d: &Rc<RefCell<Daemon>>,
    timer: &Async<OwnedFd>,
    nl: &Async<OwnedFd>,
    sockets: &RefCell<Vec<Async<OwnedFd>>>,
) -> io::Result<()> {
    use core::task::Poll;
    let ready = |src: &Async<OwnedFd>, cx: &mut core::task::Context<'_>| -> io::Result<bool> {
        match core::pin::Pin::new(&mut src.readable()).poll(cx) {
            Poll::Ready(r) => r.map(|()| true),
            Poll::Pending => Ok(false),
        }
    };
    smol::future::poll_fn(|cx| {
        let mut step = || -> io::Result<()> {
            // Adverts first: after a stall (a loaded machine), those already
            // queued must be seen before a backup's down timer, which was
            // due meanwhile, is acted on. Otherwise the backup would take
            // over from a master that is alive.
            let socks = sockets.borrow();
            for (i, s) in socks.iter().enumerate() {
                if !ready(s, cx)? {
                    continue;
                }
                for _ in 0..64 {
                    let got = d.borrow_mut().on_packet(i);
                    match got {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            d.borrow().log.line(format_args!("receive error: {e}"));
                            break;
                        }
                    }
                }
                // Armed again; fires at once if packets are left.
                ready(s, cx)?;
            }
            drop(socks);
            if ready(nl, cx)? {
                d.borrow_mut().on_netlink();
                ready(nl, cx)?;
            }
            if ready(timer, cx)? {
                d.borrow_mut().on_timer();
                // Registers for the next expiry.
                ready(timer, cx)?;
            }
            Ok(())
        };
        match step() {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    })
    .await
}

/// Signals, reloads and reopened sockets.
pub(super) async fn control(
    ex: &smol::LocalExecutor<'_>,
    d: &Rc<RefCell<Daemon>>,
    opts: &Options,
    sockets_changed: smol::channel::Receiver<()>,
    signals: crate::sys::signals::Signals,
    scripts: &mut ScriptTasks,
    sockets: &RefCell<Vec<Async<OwnedFd>>>,
) -> io::Result<()> {
    let mut dump_errors = DumpErrors { last: None, suppressed: 0 };
    let mut reloads = Reloads::default();
    loop {
        // A signal, sockets reopened behind the readers' backs, or the
        // configuration a SIGHUP asked for read by its worker.
        let next = smol::future::or(async { Wake::Signal(signals.next().await) }, async {
            smol::future::or(
                async {
                    let _ = sockets_changed.recv().await;
                    Wake::SocketsChanged
                },
                async {
                    reloads.finished().await;
                    Wake::Read
                },
            )
            .await
        })
        .await;
        let reloaded = match next {
            Wake::SocketsChanged => {
                if d.borrow().stopping {
                    return Err(io::Error::other("an interface came back but its sockets could not be opened"));
                }
                *sockets.borrow_mut() = socket_dups(d)?;
                // The new copies are armed only when the hot path is polled
                // again; nothing else may wake it before a backup's down
                // timer does (a false takeover).
                smol::future::yield_now().await;
                continue;
            }
            Wake::Read => reloads.finish(&mut d.borrow_mut(), opts),
            Wake::Signal(sig) => match sig? {
                libc::SIGHUP => reloads.start(&mut d.borrow_mut(), opts),
                sig => {
                    if other_signal(d, opts, sig, &mut dump_errors) {
                        return Ok(());
                    }
                    None
                }
            },
        };
        // A reload ended (it usually ends when its worker has read the
        // configuration, a later turn of this loop).
        if let Some(reloaded) = reloaded {
            if d.borrow().stopping {
                return Err(io::Error::other("the reload left no usable sockets"));
            }
            if reloaded {
                *sockets.borrow_mut() = socket_dups(d)?;
                scripts.refresh(ex, d)?;
                // As above: the hot path must arm the new copies now.
                smol::future::yield_now().await;
            }
        }
    }
}

/// What woke the control task.
enum Wake {
    Signal(io::Result<i32>),
    SocketsChanged,
    /// The reload's worker has read the configuration.
    Read,
}

/// A signal other than SIGHUP. Returns whether the daemon stops.
fn other_signal(d: &Rc<RefCell<Daemon>>, opts: &Options, sig: i32, dump_errors: &mut DumpErrors) -> bool {
    match sig {
        libc::SIGXCPU => {
            let _ = crate::sys::sched::set_normal();
            d.borrow().log.line(format_args!(
                "used the CPU for longer than vrrp_rlimit_rttime at real-time priority: back to normal scheduling"
            ));
        }
        libc::SIGCHLD => {
            crate::sys::script::reap_orphans();
        }
        sig @ (libc::SIGUSR1 | libc::SIGUSR2) => {
            write_dump(&d.borrow(), &opts.dump_dir, sig == libc::SIGUSR1, dump_errors);
        }
        _ => {
            d.borrow_mut().stop();
            return true;
        }
    }
    false
}

/// keepalived's signal files are readable by their owner only, as
/// keepalived 2.2.7 writes them (its umask 0177): the data file holds the
/// VRRPv2 passwords. A reader must be allowed to signal vipd anyway.
const DUMP_MODE: u32 = 0o600;

/// A directory that cannot be written (an exporter scraping every few
/// seconds) is reported once a minute, not on every signal.
const DUMP_ERROR_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

struct DumpErrors {
    last: Option<std::time::Instant>,
    suppressed: u32,
}

/// SIGUSR1: keepalived's data file; SIGUSR2: its stats file. A snapshot
/// rendered and written at once, about 1.4 kB per instance: 255 instances
/// render and write in about a millisecond (release build), a few adverts'
/// worth of instances in microseconds. Errors are logged, never fatal.
fn write_dump(d: &Daemon, dir: &Path, data: bool, errors: &mut DumpErrors) {
    let snap = d.snapshot(crate::sys::clock::now());
    let (name, text) = if data {
        ("keepalived.data", super::status::keepalived::data(&snap))
    } else {
        ("keepalived.stats", super::status::keepalived::stats(&snap))
    };
    match crate::sys::dumpfile::replace(dir, name, text.as_bytes(), DUMP_MODE) {
        Ok(()) => {
            if d.log.detail {
                let what = if data { "data" } else { "stats" };
                log!(d.log, "Printing VRRP {what} for process({}) on signal", snap.pid);
            }
        }
        Err(e) => {
            let now = std::time::Instant::now();
            if errors.last.is_some_and(|t| now.duration_since(t) < DUMP_ERROR_INTERVAL) {
                errors.suppressed = errors.suppressed.saturating_add(1);
                return;
            }
            let more = core::mem::take(&mut errors.suppressed);
            errors.last = Some(now);
            if more > 0 {
                log!(d.log, "cannot write {}: {e} ({more} more failures not logged)", dir.join(name).display());
            } else {
                log!(d.log, "cannot write {}: {e}", dir.join(name).display());
            }
        }
    }
}
