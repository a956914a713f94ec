//! Taking a [`Snapshot`] of the running daemon: the engine's instances,
//! trackers and counters, the script plan's names, and what only status
//! needs ([`Record`]: when the daemon started, how each check script's
//! last run went). Read-only; called only when somebody asks.

use std::rc::Rc;
use std::time::Duration as StdDuration;

use super::model::*;
use crate::config::{TrackerId, TrackerKind};
use crate::core::conditions::Described;
use crate::core::{Condition, State};
use crate::daemon::Daemon;
use crate::sys::probe::Outcome;
use crate::sys::script::Exit;
use crate::time::Instant;
use crate::wire::WireError;

/// Status-only bookkeeping kept by the daemon.
#[derive(Debug)]
pub struct Record {
    started: std::time::Instant,
    /// Per tracker (by id): the last finished check script run.
    runs: Vec<Option<Run>>,
    /// Recent answers by request, so a dashboard polling many times a
    /// second costs one rendering a second (see [`CACHE_AGE`]).
    cache: core::cell::RefCell<Vec<Cached>>,
    /// Per tracker (by id): a check script run is under way.
    running: Vec<bool>,
}

/// How long an answer may be served again when nothing changed state: the
/// counters and times in it are at most this old.
pub const CACHE_AGE: crate::time::Duration = crate::time::Duration::from_secs(1);

/// Answers kept (one per format and instance filter asked recently).
const CACHE_ENTRIES: usize = 4;

#[derive(Debug)]
struct Cached {
    request: String,
    made: Instant,
    answer: Rc<str>,
}

#[derive(Debug)]
struct Run {
    result: String,
    /// Probes keep the outcome and render it when asked, so a run
    /// allocates nothing.
    probe: Option<Outcome>,
    exit_code: Option<i32>,
    success: bool,
    duration: StdDuration,
    ended: Instant,
}

impl Record {
    pub fn new() -> Record {
        Record { started: std::time::Instant::now(), runs: Vec::new(), cache: Default::default(), running: Vec::new() }
    }

    /// A recent answer to `request`, if one was made within [`CACHE_AGE`]
    /// and nothing changed state since.
    pub fn cached(&self, request: &str, now: Instant) -> Option<Rc<str>> {
        let cache = self.cache.borrow();
        let c = cache.iter().find(|c| c.request == request)?;
        (now.saturating_since(c.made) < CACHE_AGE).then(|| c.answer.clone())
    }

    pub fn remember(&self, request: &str, now: Instant, answer: &Rc<str>) {
        let mut cache = self.cache.borrow_mut();
        cache.retain(|c| c.request != request);
        if cache.len() >= CACHE_ENTRIES {
            cache.remove(0);
        }
        cache.push(Cached { request: request.to_owned(), made: now, answer: answer.clone() });
    }

    /// Something changed state (a transition, a priority, a reload): the
    /// next answer is built afresh.
    pub fn invalidate(&self) {
        self.cache.borrow_mut().clear();
    }

    /// A check script of tracker `id` was started.
    pub fn script_started(&mut self, id: TrackerId) {
        let k = usize::from(id.0);
        if self.running.len() <= k {
            self.running.resize(k + 1, false);
        }
        self.running[k] = true;
    }

    /// A check script of tracker `id` ended with `exit` after `duration`.
    pub fn script_ran(&mut self, id: TrackerId, exit: &Exit, result: String, duration: StdDuration, now: Instant) {
        let exit_code = match exit {
            Exit::Code(c) => Some(*c),
            _ => None,
        };
        self.ran(id, Run { result, probe: None, exit_code, success: exit.success(), duration, ended: now });
    }

    /// A probe of tracker `id` ended with `outcome` after `duration`.
    pub fn probe_ran(&mut self, id: TrackerId, outcome: Outcome, success: bool, duration: StdDuration, now: Instant) {
        let run = Run { result: String::new(), probe: Some(outcome), exit_code: None, success, duration, ended: now };
        self.ran(id, run);
    }

    fn ran(&mut self, id: TrackerId, run: Run) {
        let k = usize::from(id.0);
        if self.runs.len() <= k {
            self.runs.resize_with(k + 1, || None);
        }
        self.runs[k] = Some(run);
        if let Some(r) = self.running.get_mut(k) {
            *r = false;
        }
    }

    /// A reload renumbers trackers: earlier runs no longer match.
    pub fn reset_runs(&mut self) {
        self.runs.clear();
        self.invalidate();
        self.running.clear();
    }
}

impl Default for Record {
    fn default() -> Record {
        Record::new()
    }
}

fn ago(now: Instant, then: Instant) -> StdDuration {
    now.saturating_since(then).to_std()
}

impl Daemon {
    /// The daemon as it is at `now`.
    pub(in crate::daemon) fn snapshot(&self, now: Instant) -> Snapshot {
        let engine = &self.engine;
        let names = engine.tracker_names();
        let trackers = engine
            .trackers()
            .iter()
            .enumerate()
            .map(|(k, t)| TrackerStatus {
                name: names.get(k).cloned().unwrap_or_default(),
                kind: t.kind,
                status: t.status,
                value: t.value,
                streak: if matches!(t.kind, TrackerKind::Script { .. }) { t.streak() } else { 0 },
                last_run: self.status.runs.get(k).and_then(Option::as_ref).map(|r| ScriptRun {
                    result: r.probe.as_ref().map_or_else(|| r.result.clone(), |o| o.to_string()),
                    exit_code: r.exit_code,
                    success: r.success,
                    duration: r.duration,
                    ago: ago(now, r.ended),
                }),
                running: self.status.running.get(k).copied().unwrap_or(false),
                check: self.plan.checks.iter().find(|c| usize::from(c.tracker.0) == k).map(|c| CheckInfo {
                    argv: c.script.argv.clone(),
                    uid: c.script.uid,
                    gid: c.script.gid,
                    interval: c.interval,
                    timeout: c.timeout,
                }),
                path: self.plan.files.iter().find(|f| usize::from(f.0.0) == k).map(|f| f.1.clone()),
                probe: self.plan.probes.iter().find(|p| usize::from(p.tracker.0) == k).map(|p| ProbeInfo {
                    target: p.what.to_string(),
                    interval: p.interval,
                    timeout: p.timeout,
                }),
                process: self.processes.as_ref().and_then(|(w, ids)| {
                    let v = w.view(ids.iter().position(|id| usize::from(id.0) == k)?)?;
                    Some(ProcessInfo {
                        cfg: v.cfg.clone(),
                        count: v.count,
                        quorum: v.up,
                        fork_timer: v.fork_timer,
                        terminate_timer: v.terminate_timer,
                    })
                }),
            })
            .collect();
        let instances = engine.instances().iter().map(|i| self.instance_status(now, i)).collect();
        let groups = self
            .plan
            .groups
            .iter()
            .enumerate()
            .map(|(g, (name, _))| GroupStatus {
                name: name.to_string(),
                state: engine.group_state(crate::core::GroupId(g as u16)),
                members: engine
                    .instances()
                    .iter()
                    .filter(|i| i.group.is_some_and(|x| usize::from(x.0) == g))
                    .map(|i| i.cfg.name.clone())
                    .collect(),
            })
            .collect();
        let global_errors = WireError::ALL.iter().map(|&e| (e, engine.global_error(e))).collect();
        let taken = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let taken_unix = taken.as_secs();
        Snapshot {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            uptime: self.status.started.elapsed(),
            taken_unix,
            taken_subsec_us: taken.subsec_micros(),
            utc_offset_s: crate::sys::clock::utc_offset(taken_unix),
            instances,
            groups,
            trackers,
            global_errors,
            smtp_alerts: SmtpAlerts {
                sent: self.mail.sent,
                failed: self.mail.failed,
                dropped: self.mail.dropped,
                instances: self
                    .plan
                    .mail
                    .as_ref()
                    .map_or_else(Vec::new, |m| mail_names(&self.plan.instances, &m.instances)),
                groups: self.plan.mail.as_ref().map_or_else(Vec::new, |m| mail_names(&self.plan.groups, &m.groups)),
            },
            dry_run: self.dry.is_some(),
        }
    }

    fn instance_status(&self, now: Instant, i: &crate::core::Instance) -> InstanceStatus {
        let engine = &self.engine;
        let source = engine.source_addr(i.id);
        let master = match i.state {
            State::Master => source.map(|a| MasterStatus {
                address: a,
                priority: i.effective_priority,
                advert_int: i.cfg.advert_int.to_std(),
                last_seen: None,
                checksum: None,
                is_self: true,
            }),
            State::Backup => i.master.map(|(a, p)| MasterStatus {
                address: a,
                priority: p,
                advert_int: i.master_adver_int.to_std(),
                last_seen: i.master_seen().map(|t| ago(now, t)),
                checksum: i.peer_form(a),
                is_self: false,
            }),
            State::Init | State::Fault => None,
        };
        let iface_name = |f: Option<crate::core::IfaceId>| {
            f.and_then(|f| engine.ifaces().get(usize::from(f.0))).map_or_else(String::new, |f| f.name.clone())
        };
        let nvips = i.cfg.vips.len();
        let vips = i
            .cfg
            .vips
            .iter()
            .chain(&i.cfg.excluded_vips)
            .enumerate()
            .map(|(k, v)| {
                let f = i.vip_iface(k);
                VipStatus {
                    addr: v.addr,
                    prefix: v.prefix,
                    interface: iface_name(f),
                    excluded: k >= nvips,
                    held: i.vip_present(k),
                }
            })
            .collect();
        let tracks = i
            .cfg
            .track
            .iter()
            .map(|t| TrackUse { tracker: usize::from(t.tracker.0), weight: t.weight, reverse: t.reverse })
            .collect();
        let mut interfaces = vec![InterfaceStatus {
            name: iface_name(Some(i.iface)),
            weight: 0,
            up: engine.ifaces().get(usize::from(i.iface.0)).is_some_and(|f| f.up),
        }];
        interfaces.extend(i.tracked_ifaces().iter().map(|&(f, weight, _)| InterfaceStatus {
            name: iface_name(Some(f)),
            weight,
            up: engine.ifaces().get(usize::from(f.0)).is_some_and(|x| x.up),
        }));
        let next_timer = match i.state {
            State::Master => i.advert_deadline(),
            State::Backup => i.down_deadline(),
            State::Init | State::Fault => None,
        }
        .map(|t| StdDuration::from_micros(t.saturating_since(now).as_micros()));
        InstanceStatus {
            cfg: i.cfg.clone(),
            state: i.state,
            in_state: ago(now, i.since),
            reason: i.reason.to_string(),
            base_priority: i.base_priority,
            effective_priority: i.effective_priority,
            master,
            source,
            ifindex: self.ifindex.get(usize::from(i.iface.0)).copied().unwrap_or(0),
            next_timer,
            vips,
            tracks,
            interfaces,
            group: i.group.and_then(|g| self.plan.groups.get(usize::from(g.0))).map(|(n, _)| n.to_string()),
            counters: i.stats,
            conditions: Condition::ALL
                .iter()
                .map(|&c| ConditionStatus {
                    condition: c,
                    since: i.conditions.since(c).map(|t| ago(now, t)),
                    raised: i.conditions.raised(c),
                    evidence: i.conditions.evidence(c).map(|evidence| Described { evidence, inst: i }.to_string()),
                })
                .collect(),
        }
    }
}

/// The names of those that mail, from the plan's per-id names and flags.
fn mail_names<T>(named: &[(Rc<str>, T)], mails: &[bool]) -> Vec<String> {
    named.iter().zip(mails).filter(|(_, m)| **m).map(|((n, _), _)| n.to_string()).collect()
}
