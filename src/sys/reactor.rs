//! The event loop's reactor: one epoll instance per thread, readiness
//! futures for file descriptors, timers, and [`block_on`].
//!
//! Why not async-io's reactor: it collects the wakers of every wakeup into a
//! fresh `Vec`, one heap allocation per wakeup, so a master sending adverts
//! allocated once per advert (measured with DHAT: 1.03 per advert). This
//! reactor keeps its state in tables sized at registration and wakes each
//! waker straight from its slot, so a steady loop allocates nothing. It also
//! needs no helper thread. The executor is still smol's `LocalExecutor`.
//!
//! Single-threaded by design: sources, timers and wakeups belong to the
//! thread that created them, and one source has one waiter at a time (the
//! daemon gives every file descriptor its own task).
//!
//! Readiness is level-triggered and one-shot: a source is armed when a task
//! waits on it and disarmed when it fires, so an fd nobody waits for never
//! wakes the loop, and one not drained fires again as soon as it is awaited.

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Wake;
use std::time::{Duration, Instant};

use rustix::event::epoll;

/// Events taken from the kernel per `epoll_wait`; more simply wait for the
/// next round.
const EVENTS: usize = 64;

struct Slot {
    /// Bumped when the slot is reused, so a stale event for a source that
    /// is gone cannot wake its successor.
    generation: u32,
    in_use: bool,
    /// Fired since the last time a waiter consumed it.
    ready: bool,
    /// Registered for one event (EPOLLONESHOT re-armed): the interest it
    /// is armed for, IN or OUT.
    armed: Option<epoll::EventFlags>,
    waker: Option<Waker>,
}

struct TimerSlot {
    at: Instant,
    waker: Option<Waker>,
    in_use: bool,
}

struct Reactor {
    epoll: OwnedFd,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<usize>>,
    timers: RefCell<Vec<TimerSlot>>,
    free_timers: RefCell<Vec<usize>>,
    events: RefCell<[epoll::Event; EVENTS]>,
}

thread_local! {
    static REACTOR: RefCell<Option<std::rc::Rc<Reactor>>> = const { RefCell::new(None) };
}

fn reactor() -> io::Result<std::rc::Rc<Reactor>> {
    REACTOR.with(|r| {
        if let Some(r) = r.borrow().as_ref() {
            return Ok(r.clone());
        }
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let empty = epoll::Event { flags: epoll::EventFlags::empty(), data: epoll::EventData::new_u64(0) };
        let new = std::rc::Rc::new(Reactor {
            epoll,
            slots: RefCell::new(Vec::with_capacity(16)),
            free: RefCell::new(Vec::with_capacity(16)),
            timers: RefCell::new(Vec::new()),
            free_timers: RefCell::new(Vec::new()),
            events: RefCell::new([empty; EVENTS]),
        });
        *r.borrow_mut() = Some(new.clone());
        Ok(new)
    })
}

fn data(key: usize, generation: u32) -> epoll::EventData {
    epoll::EventData::new_u64(((generation as u64) << 32) | key as u64)
}

impl Reactor {
    /// `armed`: the interest to register for at once (no `modify` when the
    /// first wait comes), or `None`: disarmed until then.
    fn register(&self, fd: BorrowedFd<'_>, armed: Option<epoll::EventFlags>) -> io::Result<(usize, u32)> {
        let mut slots = self.slots.borrow_mut();
        let key = match self.free.borrow_mut().pop() {
            Some(k) => k,
            None => {
                slots.push(Slot { generation: 0, in_use: false, ready: false, armed: None, waker: None });
                slots.len() - 1
            }
        };
        let slot = &mut slots[key];
        slot.generation = slot.generation.wrapping_add(1);
        slot.in_use = true;
        slot.ready = false;
        slot.armed = armed;
        slot.waker = None;
        let generation = slot.generation;
        // Registered disarmed (one-shot with no events asked for) unless
        // told otherwise. Errors and hang-ups are always reported, at most
        // once before re-arming.
        let flags = armed.unwrap_or(epoll::EventFlags::empty()) | epoll::EventFlags::ONESHOT;
        if let Err(e) = epoll::add(&self.epoll, fd, data(key, generation), flags) {
            slot.in_use = false;
            self.free.borrow_mut().push(key);
            return Err(e.into());
        }
        Ok((key, generation))
    }

    /// `closing`: the fd is the open file's only reference and is closed
    /// right after, which takes it out of the epoll set without a syscall
    /// (a stale event for it cannot wake the slot's next user: generation).
    fn deregister(&self, fd: BorrowedFd<'_>, key: usize, closing: bool) {
        if !closing {
            let _ = epoll::delete(&self.epoll, fd);
        }
        let waker = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(key) else { return };
            slot.in_use = false;
            slot.waker.take()
        };
        drop(waker);
        self.free.borrow_mut().push(key);
    }

    /// Readiness for `interest` (IN or OUT): one waiter per source at a
    /// time, so a source waits for reading or for writing, never both.
    fn poll_ready(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        generation: u32,
        interest: epoll::EventFlags,
        cx: &Context<'_>,
    ) -> Poll<io::Result<()>> {
        // A replaced waker is dropped only after the borrow ends: dropping
        // the last reference to a task could drop sources and timers, which
        // borrow these tables.
        let mut replaced = None;
        let poll = self.poll_ready_inner(fd, key, generation, interest, cx, &mut replaced);
        drop(replaced);
        poll
    }

    fn poll_ready_inner(
        &self,
        fd: BorrowedFd<'_>,
        key: usize,
        generation: u32,
        interest: epoll::EventFlags,
        cx: &Context<'_>,
        replaced: &mut Option<Waker>,
    ) -> Poll<io::Result<()>> {
        let mut slots = self.slots.borrow_mut();
        let Some(slot) = slots.get_mut(key) else {
            return Poll::Ready(Err(io::Error::other("reactor: unknown source")));
        };
        if slot.ready {
            slot.ready = false;
            return Poll::Ready(Ok(()));
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *replaced = slot.waker.replace(cx.waker().clone()),
        }
        if slot.armed != Some(interest) {
            let flags = interest | epoll::EventFlags::ONESHOT;
            epoll::modify(&self.epoll, fd, data(key, generation), flags)?;
            slot.armed = Some(interest);
        }
        Poll::Pending
    }

    /// Waits up to `timeout` for readiness and wakes who waits; then wakes
    /// the timers that are due.
    fn turn(&self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = match (timeout, self.next_timer()) {
            (Some(a), Some(t)) => Some(a.min(t.saturating_duration_since(Instant::now()))),
            (None, Some(t)) => Some(t.saturating_duration_since(Instant::now())),
            (a, None) => a,
        };
        // rustix passes whole milliseconds, rounded up, so a timer due in
        // under a millisecond does not spin.
        let spec = timeout.map(|d| rustix::time::Timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: i64::from(d.subsec_nanos()),
        });
        let mut events = self.events.borrow_mut();
        let n = match epoll::wait(&self.epoll, &mut events[..], spec.as_ref()) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => 0,
            Err(e) => return Err(e.into()),
        };
        for ev in events.iter().take(n) {
            let raw = ev.data.u64();
            let (key, generation) = ((raw & 0xffff_ffff) as usize, (raw >> 32) as u32);
            let waker = {
                let mut slots = self.slots.borrow_mut();
                match slots.get_mut(key) {
                    Some(s) if s.in_use && s.generation == generation => {
                        s.ready = true;
                        s.armed = None;
                        s.waker.take()
                    }
                    _ => None,
                }
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
        drop(events);
        self.fire_timers();
        Ok(())
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.borrow().iter().filter(|t| t.in_use && t.waker.is_some()).map(|t| t.at).min()
    }

    fn fire_timers(&self) {
        let now = Instant::now();
        let count = self.timers.borrow().len();
        for k in 0..count {
            let waker = {
                let mut timers = self.timers.borrow_mut();
                match timers.get_mut(k) {
                    Some(t) if t.in_use && t.at <= now => t.waker.take(),
                    _ => None,
                }
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// A file descriptor registered with the reactor, non-blocking.
pub struct Async<T: AsFd> {
    inner: T,
    key: usize,
    generation: u32,
    reactor: std::rc::Rc<Reactor>,
    /// Dropping `inner` closes the open file's only reference.
    sole: bool,
}

impl<T: AsFd> Async<T> {
    /// Registers `inner`, switching it to non-blocking mode.
    pub fn new(inner: T) -> io::Result<Async<T>> {
        let flags = rustix::fs::fcntl_getfl(inner.as_fd())?;
        rustix::fs::fcntl_setfl(inner.as_fd(), flags | rustix::fs::OFlags::NONBLOCK)?;
        Async::new_nonblocking(inner)
    }

    /// Registers `inner`, which is already non-blocking.
    pub fn new_nonblocking(inner: T) -> io::Result<Async<T>> {
        let reactor = reactor()?;
        let (key, generation) = reactor.register(inner.as_fd(), None)?;
        Ok(Async { inner, key, generation, reactor, sole: false })
    }

    /// Registers `inner`, already non-blocking and the only reference to
    /// its open file (a socket just made, never duplicated), armed for
    /// `interest` at once: a short-lived source that waits once costs one
    /// `epoll_ctl` instead of three (add, arm, delete: dropping it closes
    /// it, which takes it out of the set).
    pub fn new_sole(inner: T, interest: Interest) -> io::Result<Async<T>> {
        let reactor = reactor()?;
        let (key, generation) = reactor.register(inner.as_fd(), Some(interest.flags()))?;
        Ok(Async { inner, key, generation, reactor, sole: true })
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// Completes when the fd is readable (or has an error or hang-up to
    /// report, which the next read returns).
    pub fn readable(&self) -> Ready<'_, T> {
        Ready { source: self, interest: epoll::EventFlags::IN }
    }

    /// Completes when the fd can be written (or has an error to report).
    /// Not while a `readable` of the same source is pending: one waiter.
    pub fn writable(&self) -> Ready<'_, T> {
        Ready { source: self, interest: epoll::EventFlags::OUT }
    }
}

impl<T: AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl<T: AsFd> Drop for Async<T> {
    fn drop(&mut self) {
        self.reactor.deregister(self.inner.as_fd(), self.key, self.sole);
    }
}

impl<T: AsFd> core::fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Async").field("fd", &self.inner.as_fd().as_raw_fd()).field("key", &self.key).finish()
    }
}

/// What [`Async::new_sole`] arms a source for.
#[derive(Clone, Copy, Debug)]
pub enum Interest {
    Readable,
    Writable,
}

impl Interest {
    fn flags(self) -> epoll::EventFlags {
        match self {
            Interest::Readable => epoll::EventFlags::IN,
            Interest::Writable => epoll::EventFlags::OUT,
        }
    }
}

/// The future of [`Async::readable`] and [`Async::writable`].
pub struct Ready<'a, T: AsFd> {
    source: &'a Async<T>,
    interest: epoll::EventFlags,
}

impl<T: AsFd> Future for Ready<'_, T> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = self.source;
        s.reactor.poll_ready(s.inner.as_fd(), s.key, s.generation, self.interest, cx)
    }
}

/// A future that completes at an instant.
pub struct Timer {
    at: Instant,
    key: Cell<Option<usize>>,
}

impl Timer {
    pub fn at(at: Instant) -> Timer {
        Timer { at, key: Cell::new(None) }
    }

    pub fn after(d: Duration) -> Timer {
        Timer::at(Instant::now() + d)
    }
}

impl Future for Timer {
    type Output = Instant;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let now = Instant::now();
        let Ok(r) = reactor() else {
            // No reactor on this thread: nothing can wake us, so finish.
            return Poll::Ready(now);
        };
        if now >= self.at {
            if let Some(k) = self.key.take() {
                release_timer(&r, k);
            }
            return Poll::Ready(now);
        }
        let mut replaced = None;
        let mut timers = r.timers.borrow_mut();
        match self.key.get() {
            Some(k) => {
                if let Some(t) = timers.get_mut(k) {
                    match &t.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => replaced = t.waker.replace(cx.waker().clone()),
                    }
                }
            }
            None => {
                let slot = TimerSlot { at: self.at, waker: Some(cx.waker().clone()), in_use: true };
                let k = match r.free_timers.borrow_mut().pop() {
                    Some(k) => {
                        timers[k] = slot;
                        k
                    }
                    None => {
                        timers.push(slot);
                        timers.len() - 1
                    }
                };
                self.key.set(Some(k));
            }
        }
        // After the borrow, as in `poll_readable`.
        drop(timers);
        drop(replaced);
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let (Some(k), Ok(r)) = (self.key.take(), reactor()) {
            release_timer(&r, k);
        }
    }
}

fn release_timer(r: &Reactor, k: usize) {
    let waker = {
        let mut timers = r.timers.borrow_mut();
        match timers.get_mut(k) {
            Some(t) if t.in_use => {
                t.in_use = false;
                t.waker.take()
            }
            _ => return,
        }
    };
    drop(waker);
    r.free_timers.borrow_mut().push(k);
}

/// Set by any waker of the `block_on` future.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Runs `fut` to completion on this thread, waiting in the reactor while it
/// cannot make progress.
pub fn block_on<F: Future>(fut: F) -> io::Result<F::Output> {
    let reactor = reactor()?;
    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = core::pin::pin!(fut);
    loop {
        if flag.0.swap(false, Ordering::Acquire) {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return Ok(v);
            }
        }
        // Woken while polling: look at the fds without sleeping.
        let timeout = if flag.0.load(Ordering::Acquire) { Some(Duration::ZERO) } else { None };
        reactor.turn(timeout)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipe_wakes_its_reader_and_an_idle_one_does_not() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let r = Async::new(r).expect("register");
        let started = Instant::now();
        let got = block_on(async {
            let writer = async {
                Timer::after(Duration::from_millis(30)).await;
                rustix::io::write(&w, b"x").expect("write");
                futures_never().await
            };
            smol::future::or(
                async {
                    r.readable().await.expect("readable");
                    let mut b = [0u8; 4];
                    rustix::io::read(r.get_ref(), &mut b).expect("read")
                },
                writer,
            )
            .await
        })
        .expect("block_on");
        assert_eq!(got, 1);
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    async fn futures_never() -> usize {
        smol::future::pending().await
    }

    #[test]
    fn a_full_socket_wakes_its_writer_once_drained() {
        let (a, b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let a = Async::new(a).expect("register");
        // Fill it until the kernel says it would block.
        let chunk = [0u8; 4096];
        let mut filled = 0usize;
        loop {
            match rustix::io::write(a.get_ref(), &chunk) {
                Ok(n) => filled += n,
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        let started = Instant::now();
        block_on(smol::future::or(
            async {
                a.writable().await.expect("writable");
            },
            async {
                Timer::after(Duration::from_millis(30)).await;
                let mut sink = vec![0u8; filled];
                let mut b = &b;
                std::io::Read::read_exact(&mut b, &mut sink).expect("drain");
                futures_never().await;
            },
        ))
        .expect("block_on");
        assert!(started.elapsed() >= Duration::from_millis(30), "woke before the reader drained it");
    }

    #[test]
    fn timers_fire_in_order_and_dropped_ones_do_not() {
        let ex = smol::LocalExecutor::new();
        let order = std::rc::Rc::new(RefCell::new(Vec::new()));
        let t0 = Instant::now();
        block_on(ex.run(async {
            let mut tasks = Vec::new();
            for (i, ms) in [40u64, 10, 25].into_iter().enumerate() {
                let o = order.clone();
                tasks.push(ex.spawn(async move {
                    Timer::after(Duration::from_millis(ms)).await;
                    o.borrow_mut().push(i);
                }));
            }
            // A timer dropped before it fires must not keep the loop busy or
            // wake anyone.
            drop(Timer::after(Duration::from_millis(5)));
            for t in tasks {
                t.await;
            }
        }))
        .expect("block_on");
        assert_eq!(*order.borrow(), vec![1, 2, 0]);
        assert!(t0.elapsed() >= Duration::from_millis(40));
    }

    #[test]
    fn a_level_that_is_not_drained_fires_again() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let r = Async::new(r).expect("register");
        rustix::io::write(&w, b"abc").expect("write");
        let reads = block_on(async {
            let mut got = Vec::new();
            for _ in 0..3 {
                r.readable().await.expect("readable");
                let mut b = [0u8; 1];
                got.push(rustix::io::read(r.get_ref(), &mut b).expect("read"));
            }
            got
        })
        .expect("block_on");
        assert_eq!(reads, vec![1, 1, 1]);
    }

    #[test]
    fn a_reused_slot_ignores_its_predecessors_events() {
        let (r1, w1) = rustix::pipe::pipe().expect("pipe");
        let a = Async::new(r1).expect("register");
        let (key, generation) = (a.key, a.generation);
        drop(a);
        drop(w1);
        let (r2, _w2) = rustix::pipe::pipe().expect("pipe");
        let b = Async::new(r2).expect("register");
        assert_eq!(b.key, key, "the slot is reused");
        assert_ne!(b.generation, generation);
        // Nothing written to b: a short wait must time out, not complete.
        let done = block_on(smol::future::or(
            async {
                b.readable().await.expect("readable");
                true
            },
            async {
                Timer::after(Duration::from_millis(50)).await;
                false
            },
        ))
        .expect("block_on");
        assert!(!done);
    }
}
