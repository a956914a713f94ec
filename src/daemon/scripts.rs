//! Check scripts, tracked files, notify scripts and notify FIFOs, wired to
//! the event loop (keepalived-reference §1.5, §3.6, §3.7).
//!
//! Everything here runs as tasks on the daemon's one executor and never
//! waits on a child: a check task runs its script, hands the result to the
//! engine and sleeps until the next run; a notify *lane* (one per instance
//! and per sync group, keyed by name so it survives a reload) runs its
//! queued scripts one after another, so a later transition's script never
//! overtakes an earlier one's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration as StdDuration;

use crate::config::{Config, Notify, TrackerId};
use crate::core::NotifyState;
use crate::sys::fifo::Fifo;
use crate::sys::script::{self, Exit, Prepared};

/// How long a running notify script may hold back the next one of its
/// instance or group. Past it, when another notification waits, the lane
/// starts that one and the slow script goes on beside it (until
/// `notify_timeout`): a hung `notify_backup` must not make the next
/// `notify_fault` or `notify_master` late by more than this.
pub const NOTIFY_HOLD: StdDuration = StdDuration::from_secs(3);

/// Notify scripts queued per instance or group at most. A script slower
/// than the events that queue it (a `notify_master_rx_lower_pri` during a
/// storm of lower-priority adverts) must not grow memory without bound;
/// what does not fit is dropped and counted in the log.
const LANE_QUEUE: usize = 1024;

/// On shutdown, queued STOP notifications get this long to finish before
/// the scripts still running are stopped (keepalived gives STOP scripts 1 s).
pub const STOP_WAIT: StdDuration = StdDuration::from_secs(1);

/// First runs of many check scripts are spread at most this far apart, so a
/// configuration with hundreds of scripts does not fork them all in one
/// wakeup (and their later runs keep the spread).
const CHECK_SPREAD_MAX: StdDuration = StdDuration::from_millis(5);

/// The step of the grid probe runs are due on: an eighth of the interval,
/// from 1 to 10 ms. Probes due in the same step share a wakeup; a run is
/// at most one step late on its first start, never later after that.
pub(super) fn probe_quantum(interval: StdDuration) -> StdDuration {
    (interval / 8).clamp(StdDuration::from_millis(1), StdDuration::from_millis(10))
}

/// Notify scripts of one instance or sync group, prepared.
#[derive(Clone, Debug, Default)]
pub struct NotifySet {
    master: Option<Rc<Prepared>>,
    backup: Option<Rc<Prepared>>,
    fault: Option<Rc<Prepared>>,
    stop: Option<Rc<Prepared>>,
    deleted: Option<Rc<Prepared>>,
    generic: Option<Rc<Prepared>>,
    rx_lower: Option<Rc<Prepared>>,
}

/// What a notification reports: a state, or one of keepalived's events.
/// Which to report, and when (`notify_deleted`, `notify_priority_changes`
/// included), is the engine's decision: `Effect::Notify` and
/// `Effect::NotifyEvent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum What {
    State(NotifyState),
    Deleted,
    MasterRxLowerPri,
    MasterPriority,
    BackupPriority,
}

impl NotifySet {
    fn runs_anything(&self) -> bool {
        [&self.master, &self.backup, &self.fault, &self.stop, &self.deleted, &self.generic, &self.rx_lower]
            .iter()
            .any(|s| s.is_some())
    }
}

impl What {
    pub fn name(self) -> &'static str {
        match self {
            What::State(s) => s.name(),
            What::Deleted => "DELETED",
            What::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            What::MasterPriority => "MASTER_PRIORITY",
            What::BackupPriority => "BACKUP_PRIORITY",
        }
    }
}

/// A check script to run for one tracker.
#[derive(Clone, Debug)]
pub struct CheckPlan {
    pub tracker: TrackerId,
    pub name: Rc<str>,
    pub script: Rc<Prepared>,
    pub interval: StdDuration,
    pub timeout: StdDuration,
    /// Delay of the first run (see `CHECK_SPREAD_MAX`).
    pub offset: StdDuration,
}

/// A `vrrp_probe` to run for one tracker.
#[derive(Clone, Debug)]
pub struct ProbePlan {
    pub tracker: TrackerId,
    pub name: Rc<str>,
    pub target: Rc<crate::sys::probe::Target>,
    /// As the file says it, for status: `http http://…` or `tcp ADDR:PORT`.
    pub what: Rc<str>,
    pub interval: StdDuration,
    pub timeout: StdDuration,
    /// Delay of the first run (see `CHECK_SPREAD_MAX`).
    pub offset: StdDuration,
}

/// Everything a configuration asks to run or watch, prepared once at load.
#[derive(Debug, Default)]
pub struct Plan {
    pub checks: Vec<CheckPlan>,
    /// A new slice with every configuration, so the loop sees a reload
    /// by pointer (`script_tasks::run_probes`).
    pub probes: Rc<[ProbePlan]>,
    /// Tracked files: tracker, path, `init_file` value and `overwrite`.
    pub files: Vec<(TrackerId, PathBuf, Option<i64>, bool)>,
    /// Per `InstanceId`: name and notify scripts.
    pub instances: Vec<(Rc<str>, NotifySet)>,
    /// Per `GroupId`.
    pub groups: Vec<(Rc<str>, NotifySet)>,
    /// Notify FIFOs (paths deduplicated) with their owner.
    pub fifos: Vec<(PathBuf, Option<(u32, u32)>)>,
    /// `notify_fifo_script`s: started with the FIFO path as last argument,
    /// kept running until stop or reload.
    pub fifo_readers: Vec<(Rc<Prepared>, PathBuf)>,
    /// `notify_timeout`: a notify script is stopped after this long, so a
    /// hung one does not pile up processes. keepalived has no limit.
    pub notify_timeout: StdDuration,
    /// E-mail alerts; `None` when nothing would be mailed.
    pub mail: Option<Rc<super::mail::MailPlan>>,
}

impl Plan {
    /// Prepares every script of `cfg`. A check script that cannot run is an
    /// error (it decides elections); a notify script that cannot is left
    /// out, as `script::check_config` already warned about it.
    pub fn build(cfg: &Config) -> Result<Plan, String> {
        let prep = |s: &crate::config::Script| script::prepare(s, &cfg.globals).ok().map(|(p, _)| Rc::new(p));
        let set = |n: &Notify| NotifySet {
            master: n.master.as_deref().and_then(prep),
            backup: n.backup.as_deref().and_then(prep),
            fault: n.fault.as_deref().and_then(prep),
            stop: n.stop.as_deref().and_then(prep),
            deleted: n.deleted.as_deref().and_then(prep),
            generic: n.generic.as_deref().and_then(prep),
            rx_lower: n.master_rx_lower_pri.as_deref().and_then(prep),
        };
        let mut plan = Plan {
            instances: cfg.instances.iter().map(|i| (Rc::from(i.name.as_str()), set(&i.notify))).collect(),
            groups: cfg.sync_groups.iter().map(|g| (Rc::from(g.name.as_str()), set(&g.notify))).collect(),
            notify_timeout: cfg.globals.notify_timeout.to_std(),
            mail: super::mail::MailPlan::build(cfg),
            ..Plan::default()
        };
        // Only trackers some instance uses run (keepalived ignores the rest).
        let mut used: Vec<TrackerId> = cfg.instances.iter().flat_map(|i| i.track.iter().map(|t| t.tracker)).collect();
        crate::sort::heap_sort(&mut used);
        used.dedup();
        let mut probes = Vec::new();
        for id in used {
            let Some(t) = cfg.trackers.get(usize::from(id.0)) else { continue };
            if let Some(c) = &t.script {
                let (p, _) =
                    script::prepare(&c.script, &cfg.globals).map_err(|e| format!("vrrp_script `{}`: {e}", t.name))?;
                plan.checks.push(CheckPlan {
                    tracker: id,
                    name: Rc::from(t.name.as_str()),
                    script: Rc::new(p),
                    interval: c.interval.to_std(),
                    timeout: c.timeout.to_std(),
                    offset: StdDuration::ZERO,
                });
            }
            if let Some(f) = &t.file {
                plan.files.push((id, f.path.clone(), f.init, f.overwrite));
            }
            if let Some(p) = &t.probe {
                probes.push(ProbePlan {
                    what: Rc::from(p.target.as_str()),
                    tracker: id,
                    name: Rc::from(t.name.as_str()),
                    target: Rc::new(crate::sys::probe::Target::new(p.addr, p.url(), p.expect)),
                    interval: p.interval.to_std(),
                    timeout: p.timeout.to_std(),
                    offset: StdDuration::ZERO,
                });
            }
        }
        let n = plan.checks.len().max(1) as u32;
        for (k, c) in plan.checks.iter_mut().enumerate() {
            c.offset = (c.interval / n).min(CHECK_SPREAD_MAX) * k as u32;
        }
        // Probes run on a grid of `probe_quantum` steps (see
        // `script_tasks::probe_loop`), spread over the steps of their
        // interval: a handful per wakeup rather than one each, since the
        // wakeup costs more than the connect.
        for (k, c) in probes.iter_mut().enumerate() {
            let q = probe_quantum(c.interval);
            let steps = (c.interval.as_micros() / q.as_micros().max(1)).max(1) as usize;
            c.offset = q * (k % steps) as u32;
        }
        plan.probes = Rc::from(probes);
        let g = &cfg.globals;
        for (fifo, reader) in
            [(&g.notify_fifo, &g.notify_fifo_script), (&g.vrrp_notify_fifo, &g.vrrp_notify_fifo_script)]
        {
            let Some(fifo) = fifo else { continue };
            if !plan.fifos.iter().any(|(p, _)| *p == fifo.path) {
                let owner = match &fifo.user {
                    Some(u) => Some(script::lookup_user(&u.user, u.group.as_deref())?),
                    None => None,
                };
                plan.fifos.push((fifo.path.clone(), owner));
            }
            if let Some(p) = reader.as_ref().and_then(prep) {
                plan.fifo_readers.push((p, fifo.path.clone()));
            }
        }
        Ok(plan)
    }

    /// The script to run for `what`, and whether the generic `notify` runs
    /// too (it does for every state and event).
    fn specific(set: &NotifySet, what: What) -> Option<&Rc<Prepared>> {
        match what {
            What::State(NotifyState::Master) => set.master.as_ref(),
            What::State(NotifyState::Backup) => set.backup.as_ref(),
            What::State(NotifyState::Fault) => set.fault.as_ref(),
            What::State(NotifyState::Stop) => set.stop.as_ref(),
            What::Deleted => set.deleted.as_ref().or(set.stop.as_ref()),
            What::MasterRxLowerPri => set.rx_lower.as_ref(),
            What::MasterPriority | What::BackupPriority => None,
        }
    }
}

/// One queued notify script.
pub struct Job {
    pub script: Rc<Prepared>,
    /// `INSTANCE|GROUP name state priority` for the generic `notify`.
    pub extra: Option<[String; 4]>,
    /// For the log: `(VI_1) notify_master`.
    pub label: String,
    /// Stopped after this long (`notify_timeout` when it was queued).
    pub timeout: StdDuration,
}

/// Runtime side: lanes, FIFOs, and the cancel handles of the running tasks.
pub struct Notifier {
    /// Lanes by `i:NAME` / `g:NAME`; dropping a sender lets its task finish
    /// what is queued and end.
    lanes: HashMap<String, smol::channel::Sender<Job>>,
    /// Lanes created since the event loop last looked.
    pub new_lanes: Vec<smol::channel::Receiver<Job>>,
    fifos: Vec<Fifo>,
    /// Closed to stop the notify scripts still running at shutdown.
    pub lane_kill: Option<smol::channel::Sender<()>>,
    pub lane_kill_rx: smol::channel::Receiver<()>,
    /// Closed to stop the check tasks and FIFO readers of this configuration.
    pub check_cancel: Option<smol::channel::Sender<()>>,
    pub check_cancel_rx: smol::channel::Receiver<()>,
    /// Set when the check tasks must be (re)spawned by the event loop.
    pub checks_changed: bool,
    /// FIFO lines dropped so far (nobody reading and the pipe full).
    pub fifo_dropped_logged: u64,
    /// Notify scripts not queued because their lane was full.
    pub jobs_dropped: u64,
    pub jobs_dropped_logged: u64,
    /// The adopted plan's `notify_timeout`.
    notify_timeout: StdDuration,
}

impl Notifier {
    pub fn new() -> Notifier {
        let (kill, kill_rx) = smol::channel::bounded(1);
        let (cancel, cancel_rx) = smol::channel::bounded(1);
        Notifier {
            lanes: HashMap::new(),
            new_lanes: Vec::new(),
            fifos: Vec::new(),
            lane_kill: Some(kill),
            lane_kill_rx: kill_rx,
            check_cancel: Some(cancel),
            check_cancel_rx: cancel_rx,
            checks_changed: true,
            fifo_dropped_logged: 0,
            jobs_dropped: 0,
            jobs_dropped_logged: 0,
            notify_timeout: crate::config::NOTIFY_TIMEOUT_DEFAULT.to_std(),
        }
    }

    /// Opens the plan's FIFOs and makes sure every instance and group has a
    /// lane. Lanes of names the plan no longer has are closed (their queued
    /// scripts still run). Returns problems to log.
    pub fn adopt(&mut self, plan: &Plan) -> Vec<String> {
        let mut problems = Vec::new();
        let mut fifos = Vec::with_capacity(plan.fifos.len());
        for (path, owner) in &plan.fifos {
            // An already open FIFO is kept, so a reader sees no EOF.
            if let Some(i) = self.fifos.iter().position(|f| f.path() == path.as_path()) {
                fifos.push(self.fifos.swap_remove(i));
                continue;
            }
            match Fifo::open(path, *owner) {
                Ok(f) => fifos.push(f),
                Err(e) => problems.push(format!("notify FIFO: {e}")),
            }
        }
        self.fifos = fifos;
        self.notify_timeout = plan.notify_timeout;
        // Lanes only where there is something to run: most instances have
        // no notify script.
        let keys: Vec<String> = plan
            .instances
            .iter()
            .filter(|(_, set)| set.runs_anything())
            .map(|(n, _)| lane_key(false, n))
            .chain(plan.groups.iter().filter(|(_, set)| set.runs_anything()).map(|(n, _)| lane_key(true, n)))
            .collect();
        self.lanes.retain(|k, _| keys.contains(k));
        for k in keys {
            self.lanes.entry(k).or_insert_with(|| {
                // Unbounded, with the bound checked at queueing time: a
                // bounded channel would allocate all its slots up front.
                let (tx, rx) = smol::channel::unbounded();
                self.new_lanes.push(rx);
                tx
            });
        }
        // A new generation of check tasks: the old ones are cancelled.
        let (cancel, cancel_rx) = smol::channel::bounded(1);
        self.check_cancel = Some(cancel);
        self.check_cancel_rx = cancel_rx;
        self.checks_changed = true;
        problems
    }

    /// Queues the notify scripts for `what` on the lane of `name` and writes
    /// the FIFO line. Returns the number of FIFO lines dropped so far.
    pub fn notify(&mut self, set: &NotifySet, group: bool, name: &str, what: What, priority: u8) {
        let kind = if group { "GROUP" } else { "INSTANCE" };
        // The common case, nothing configured, must not allocate: this runs
        // on every lower-priority advert a master hears.
        if self.fifos.is_empty() && set.generic.is_none() && Plan::specific(set, what).is_none() {
            return;
        }
        for f in &mut self.fifos {
            f.notify(kind, name, what.name(), priority);
        }
        let Some(lane) = self.lanes.get(&lane_key(group, name)) else { return };
        let mut dropped = 0;
        let timeout = self.notify_timeout;
        let mut queue = |script: &Rc<Prepared>, extra: Option<[String; 4]>, keyword: &str| {
            let label = format!("{}({name}) {keyword}", if group { "VRRP_Group" } else { "" });
            if lane.len() >= LANE_QUEUE || lane.try_send(Job { script: script.clone(), extra, label, timeout }).is_err()
            {
                dropped += 1;
            }
        };
        if let Some(s) = Plan::specific(set, what) {
            let keyword = match what {
                What::State(NotifyState::Master) => "notify_master",
                What::State(NotifyState::Backup) => "notify_backup",
                What::State(NotifyState::Fault) => "notify_fault",
                What::State(NotifyState::Stop) => "notify_stop",
                What::Deleted if set.deleted.is_some() => "notify_deleted",
                What::Deleted => "notify_stop",
                _ => "notify_master_rx_lower_pri",
            };
            queue(s, None, keyword);
        }
        if let Some(s) = &set.generic {
            let extra = [kind.to_owned(), name.to_owned(), what.name().to_owned(), priority.to_string()];
            queue(s, Some(extra), "notify");
        }
        self.jobs_dropped += dropped;
    }

    /// FIFO lines dropped since start (all FIFOs).
    pub fn fifo_dropped(&self) -> u64 {
        self.fifos.iter().map(Fifo::dropped).sum()
    }

    /// Shutdown: no more notifications; lanes finish what is queued.
    pub fn close_lanes(&mut self) {
        self.lanes.clear();
    }

    /// Shutdown or reload: check tasks and FIFO readers stop.
    pub fn cancel_checks(&mut self) {
        self.check_cancel = None;
    }
}

fn lane_key(group: bool, name: &str) -> String {
    format!("{}:{name}", if group { 'g' } else { 'i' })
}

/// How a finished script is reported in the log.
pub fn describe(exit: &Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit status {c}"),
        Exit::Signal(s) => format!("killed by signal {s}"),
        Exit::TimedOut => "timed out".to_owned(),
        Exit::Cancelled => "stopped".to_owned(),
        Exit::SpawnFailed(e) => format!("could not start: {e}"),
    }
}

/// The full command line of a job, for the log.
pub fn command_line(p: &Prepared, extra: Option<&[String; 4]>) -> String {
    let mut s = p.argv.join(" ");
    for a in extra.into_iter().flatten() {
        s.push(' ');
        s.push_str(a);
    }
    s
}
