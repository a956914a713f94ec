//! The tasks that run scripts or watch files, restarted with each
//! configuration: check scripts on their interval, notify lanes, the
//! `notify_fifo_script` readers and the tracked-file watcher, and their
//! wind-down on exit; and the `vrrp_probe` runs, which are no tasks but
//! are polled by the loop itself ([`run_probes`]). They hand results to
//! `Daemon` and never block the loop on a child; what to run is decided in
//! `scripts`, not here.

use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Wake;
use std::time::Duration as StdDuration;

use super::Daemon;
use super::scripts;
use super::tasks::dup_async;
use crate::sys::reactor::Timer;

/// Tasks that run scripts or watch files, restarted with each configuration.
#[derive(Default)]
pub(super) struct ScriptTasks {
    /// Check tasks, FIFO readers and the file watcher of this configuration.
    checks: Vec<smol::Task<()>>,
    /// Cancelled check tasks still stopping their scripts.
    retired: Vec<smol::Task<()>>,
    /// Notify lanes; each ends once its sender is gone and its queue empty.
    lanes: Vec<smol::Task<()>>,
}

impl ScriptTasks {
    /// Starts what a new configuration (or the first one) asks for.
    pub(super) fn refresh(&mut self, ex: &smol::LocalExecutor<'_>, d: &Rc<RefCell<Daemon>>) -> io::Result<()> {
        self.retired.retain(|t| !t.is_finished());
        self.lanes.retain(|t| !t.is_finished());
        let mut dm = d.borrow_mut();
        let detail = dm.log.detail;
        let kill = dm.notifier.lane_kill_rx.clone();
        for rx in dm.notifier.new_lanes.drain(..) {
            self.lanes.push(ex.spawn(lane_task(d.clone(), rx, kill.clone(), detail)));
        }
        if !dm.notifier.checks_changed {
            return Ok(());
        }
        dm.notifier.checks_changed = false;
        // The old tasks saw their cancel channel close; let them finish.
        self.retired.append(&mut self.checks);
        let cancel = dm.notifier.check_cancel_rx.clone();
        for c in &dm.plan.checks {
            self.checks.push(ex.spawn(check_task(d.clone(), c.clone(), cancel.clone(), detail)));
        }
        for (p, fifo) in &dm.plan.fifo_readers {
            let path = fifo.display().to_string();
            self.checks.push(ex.spawn(fifo_reader(d.clone(), p.clone(), path, cancel.clone(), detail)));
        }
        if let Some(w) = &dm.files {
            self.checks.push(ex.spawn(fd_task(d.clone(), dup_async(w.fd())?, cancel.clone(), Daemon::on_files)));
        }
        if let Some((w, _)) = &dm.processes {
            self.checks.push(ex.spawn(fd_task(d.clone(), dup_async(w.fd())?, cancel.clone(), Daemon::on_processes)));
        }
        Ok(())
    }

    /// After `Daemon::stop`: queued notifications get `STOP_WAIT`, then
    /// whatever still runs is stopped (SIGTERM, SIGKILL after the grace)
    /// and reaped before the process exits.
    pub(super) async fn wind_down(&mut self, d: &Rc<RefCell<Daemon>>) {
        let soon = std::time::Instant::now() + scripts::STOP_WAIT;
        settle(&mut self.lanes, soon).await;
        d.borrow_mut().notifier.lane_kill = None;
        let later = std::time::Instant::now() + crate::sys::script::KILL_GRACE + StdDuration::from_millis(500);
        settle(&mut self.lanes, later).await;
        settle(&mut self.checks, later).await;
        settle(&mut self.retired, later).await;
    }
}

/// Waits for `tasks` to finish until `until`; those left keep running.
async fn settle(tasks: &mut Vec<smol::Task<()>>, until: std::time::Instant) {
    while let Some(t) = tasks.last_mut() {
        let done = smol::future::or(
            async {
                t.await;
                true
            },
            async {
                Timer::at(until).await;
                false
            },
        )
        .await;
        if !done {
            return;
        }
        tasks.pop();
    }
}

/// Sleeps until `t`; false when cancelled first.
async fn sleep_until(t: std::time::Instant, cancel: &smol::channel::Receiver<()>) -> bool {
    smol::future::or(
        async {
            Timer::at(t).await;
            true
        },
        async {
            // Nobody sends: the channel closes when the daemon drops the
            // sender (reload, stop).
            let _ = cancel.recv().await;
            false
        },
    )
    .await
}

/// Runs one check script every `interval`, never two at once: a run that
/// outlasts the interval delays the next one instead.
async fn check_task(
    d: Rc<RefCell<Daemon>>,
    plan: scripts::CheckPlan,
    cancel: smol::channel::Receiver<()>,
    detail: bool,
) {
    let mut next = std::time::Instant::now() + plan.offset;
    loop {
        if !sleep_until(next, &cancel).await {
            return;
        }
        // A round of checks falls due together: adverts due meanwhile go
        // out between two of them, not after all (`run_due_timers`).
        d.borrow_mut().run_due_timers();
        let started = std::time::Instant::now();
        // For the keepalived data file's "State = running".
        d.borrow_mut().status.script_started(plan.tracker);
        let dl = d.clone();
        let name = plan.name.clone();
        let mut out = move |line: &str| dl.borrow().log.line(format_args!("VRRP_Script({name}) output: {line}"));
        let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
        let exit = crate::sys::script::run(&plan.script, &[], Some(plan.timeout), &cancel, output).await;
        // A run that ended as a reload cancelled it: its tracker id belongs
        // to the old configuration.
        if exit == crate::sys::script::Exit::Cancelled || cancel.is_closed() {
            return;
        }
        // And between two results: 200 checks that end together are as
        // many reaps and engine events in one go.
        let mut dm = d.borrow_mut();
        dm.script_result(&plan, &exit, started.elapsed());
        dm.run_due_timers();
        drop(dm);
        next = started + plan.interval;
        let now = std::time::Instant::now();
        if next < now {
            if detail {
                d.borrow()
                    .log
                    .line(format_args!("VRRP_Script({}) ran longer than its interval; next run now", plan.name));
            }
            next = now;
        }
    }
}

/// Runs one `vrrp_probe` every `interval`, never two at once, each run cut
/// off at `timeout` (dropping it closes its socket).
async fn probe_loop(d: Rc<RefCell<Daemon>>, plan: scripts::ProbePlan) {
    let q = scripts::probe_quantum(plan.interval);
    let mut next = on_grid(std::time::Instant::now() + plan.offset, q);
    loop {
        Timer::at(next).await;
        let started = std::time::Instant::now();
        d.borrow_mut().status.script_started(plan.tracker);
        let outcome = smol::future::or(crate::sys::probe::run(&plan.target), async {
            Timer::at(started + plan.timeout).await;
            crate::sys::probe::Outcome::TimedOut
        })
        .await;
        d.borrow_mut().probe_result(&plan, outcome, started.elapsed());
        // From the due time, not the start, so runs stay on the grid; a run
        // that overran starts on the next step.
        next += plan.interval;
        let now = std::time::Instant::now();
        if next < now {
            next = on_grid(now, q);
        }
    }
}

thread_local! {
    /// The origin of the probes' grid: the first probe's start.
    static GRID: core::cell::Cell<Option<std::time::Instant>> = const { core::cell::Cell::new(None) };
}

/// `t`, or the first point of the `q` grid after it.
fn on_grid(t: std::time::Instant, q: StdDuration) -> std::time::Instant {
    let base = GRID.with(|g| {
        let b = g.get().unwrap_or(t);
        g.set(Some(b));
        b
    });
    let since = t.saturating_duration_since(base).as_nanos();
    let q_ns = q.as_nanos().max(1);
    let steps = since.div_ceil(q_ns);
    base + StdDuration::from_nanos(u64::try_from(steps * q_ns).unwrap_or(u64::MAX))
}

/// Wakes one probe: marks it and wakes the loop's top-level future.
struct ProbeWake {
    woken: AtomicBool,
    parent: Arc<Mutex<Option<Waker>>>,
}

impl Wake for ProbeWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(w) = self.parent.lock().ok().as_deref().and_then(Option::as_ref) {
            w.wake_by_ref();
        }
    }
}

/// The probes of the running configuration, polled by the loop's
/// top-level future like the hot path rather than spawned: waking a task
/// goes through the executor's queue, which allocates every few dozen
/// wakeups. Each probe has its own waker, so a wakeup polls only the probes
/// it concerns. A reload (a new `plan.probes`) drops the old runs, closing
/// their sockets, and starts the new ones. Never completes.
pub(super) async fn run_probes(d: &Rc<RefCell<Daemon>>) -> io::Result<()> {
    type Run = (Pin<Box<dyn Future<Output = ()>>>, Arc<ProbeWake>, Waker);
    let parent: Arc<Mutex<Option<Waker>>> = Arc::default();
    let mut plans: Option<Rc<[scripts::ProbePlan]>> = None;
    let mut runs: Vec<Run> = Vec::new();
    smol::future::poll_fn(|cx| {
        if let Ok(mut p) = parent.lock() {
            if !p.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *p = Some(cx.waker().clone());
            }
        }
        let current = d.borrow().plan.probes.clone();
        if !plans.as_ref().is_some_and(|p| Rc::ptr_eq(p, &current)) {
            runs.clear();
            for plan in current.iter() {
                let wake = Arc::new(ProbeWake { woken: AtomicBool::new(true), parent: parent.clone() });
                let waker = Waker::from(wake.clone());
                runs.push((Box::pin(probe_loop(d.clone(), plan.clone())), wake, waker));
            }
            plans = Some(current);
        }
        for (run, wake, waker) in &mut runs {
            if wake.woken.swap(false, Ordering::Acquire) {
                let _ = run.as_mut().poll(&mut Context::from_waker(waker));
            }
        }
        Poll::Pending
    })
    .await
}

impl Daemon {
    /// A probe ended: its result goes to the engine as a check script's
    /// would. The log wording (allocating) only when the verdict changes.
    fn probe_result(&mut self, plan: &scripts::ProbePlan, outcome: crate::sys::probe::Outcome, took: StdDuration) {
        let success = plan.target.success(outcome);
        let now = crate::sys::clock::now();
        self.status.probe_ran(plan.tracker, outcome, success, took, now);
        let k = usize::from(plan.tracker.0);
        let flips = self.engine.trackers().get(k).is_some_and(|t| {
            let mut t = *t;
            t.script_result(success)
        });
        if flips {
            self.last_exit = Some((plan.name.clone(), outcome.to_string()));
        }
        self.handle(now, crate::core::Event::ScriptResult { tracker: plan.tracker, success });
        self.last_exit = None;
    }
}

/// Runs an instance's or group's notify scripts one after another, in the
/// order of their events. A script that runs longer than
/// [`scripts::NOTIFY_HOLD`] while the next notification waits stops holding
/// the lane: it goes on beside the later ones until it ends or reaches
/// its `notify_timeout`.
async fn lane_task(
    d: Rc<RefCell<Daemon>>,
    jobs: smol::channel::Receiver<scripts::Job>,
    kill: smol::channel::Receiver<()>,
    detail: bool,
) {
    // Runs that stopped holding the lane; polled with whatever the lane
    // waits for, so they are reaped and logged when they end.
    let mut behind: Vec<Pin<Box<dyn Future<Output = ()>>>> = Vec::new();
    let mut next = with_behind(&mut behind, jobs.recv()).await.ok();
    while let Some(job) = next.take() {
        let cmd = scripts::command_line(&job.script, job.extra.as_ref());
        if kill.is_closed() {
            d.borrow().log.line(format_args!("{} ({cmd}): not run, stopping", job.label));
            next = with_behind(&mut behind, jobs.recv()).await.ok();
            continue;
        }
        let label = job.label.clone();
        let mut current: Pin<Box<dyn Future<Output = ()>>> = Box::pin(notify_run(d.clone(), job, kill.clone(), detail));
        let hold = std::time::Instant::now() + scripts::NOTIFY_HOLD;
        let waited = smol::future::or(
            async {
                (&mut current).await;
                None
            },
            async {
                Timer::at(hold).await;
                // A closed lane has nothing more to start: keep waiting.
                match jobs.recv().await {
                    Ok(job) => Some(job),
                    Err(_) => smol::future::pending().await,
                }
            },
        );
        next = with_behind(&mut behind, waited).await;
        if next.is_some() {
            d.borrow().log.line(format_args!(
                "{label} ({cmd}): still running after {} s; the next notification starts without waiting for it",
                scripts::NOTIFY_HOLD.as_secs()
            ));
            behind.push(current);
        } else {
            next = with_behind(&mut behind, jobs.recv()).await.ok();
        }
    }
    // The lane is closed: let the runs left behind end (or be stopped).
    smol::future::poll_fn(|cx| {
        behind.retain_mut(|run| run.as_mut().poll(cx).is_pending());
        if behind.is_empty() { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
}

/// One notify script run, logged when it ends.
async fn notify_run(d: Rc<RefCell<Daemon>>, job: scripts::Job, kill: smol::channel::Receiver<()>, detail: bool) {
    // 1,000 instances changing state start their notify scripts together.
    d.borrow_mut().run_due_timers();
    let cmd = scripts::command_line(&job.script, job.extra.as_ref());
    let extra: Vec<&str> = job.extra.iter().flatten().map(String::as_str).collect();
    let dl = d.clone();
    let label = job.label.clone();
    let mut out = move |line: &str| dl.borrow().log.line(format_args!("{label} output: {line}"));
    let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
    let exit = crate::sys::script::run(&job.script, &extra, Some(job.timeout), &kill, output).await;
    d.borrow().log.line(format_args!("{} ({cmd}): {}", job.label, scripts::describe(&exit)));
}

/// Awaits `f` while also driving the runs in `behind`, dropping each as it
/// finishes.
async fn with_behind<T>(behind: &mut Vec<Pin<Box<dyn Future<Output = ()>>>>, f: impl Future<Output = T>) -> T {
    let mut f = core::pin::pin!(f);
    smol::future::poll_fn(|cx| {
        behind.retain_mut(|run| run.as_mut().poll(cx).is_pending());
        f.as_mut().poll(cx)
    })
    .await
}

/// `notify_fifo_script`: started once with the FIFO path appended, stopped
/// with the configuration.
async fn fifo_reader(
    d: Rc<RefCell<Daemon>>,
    script: Rc<crate::sys::script::Prepared>,
    fifo: String,
    cancel: smol::channel::Receiver<()>,
    detail: bool,
) {
    let dl = d.clone();
    let mut out = move |line: &str| dl.borrow().log.line(format_args!("notify_fifo_script output: {line}"));
    let output: Option<&mut dyn FnMut(&str)> = if detail { Some(&mut out) } else { None };
    let exit = crate::sys::script::run(&script, &[fifo.as_str()], None, &cancel, output).await;
    if exit != crate::sys::script::Exit::Cancelled {
        let cmd = scripts::command_line(&script, None);
        d.borrow().log.line(format_args!("notify_fifo_script ({cmd} {fifo}) ended: {}", scripts::describe(&exit)));
    }
}

/// Calls `on` each time `ready` is readable (tracked files, process
/// events); one function for both, so the binary holds one task body.
async fn fd_task(
    d: Rc<RefCell<Daemon>>,
    ready: crate::sys::reactor::Async<std::os::fd::OwnedFd>,
    cancel: smol::channel::Receiver<()>,
    on: fn(&mut Daemon),
) {
    // Checked first: after a reload this task's fd is the old watcher's,
    // which nobody drains any more, so it would stay readable and spin.
    while !cancel.is_closed() && ready.readable().await.is_ok() {
        if cancel.is_closed() {
            return;
        }
        on(&mut d.borrow_mut());
    }
}
