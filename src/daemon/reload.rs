//! SIGHUP: reading the new configuration, refusing it when it has errors,
//! carrying out what the old engine says it must release for the new one
//! (`Engine::release_for`: what to release is the engine's decision), and
//! swapping engine, sockets and plans in one go. It must not keep anything
//! of the old configuration but what `Engine::start_from` carries over.
//!
//! Reading, lexing and checking the files is done on a worker thread
//! (`sys::worker`), because it takes long: 60 ms for 40,000 lines in the
//! release build, 215 ms in the debug one, while a 10 ms master must not
//! miss three adverts. This does not contradict design.md's single
//! threaded loop: the worker only turns files into a `Loaded` (a `Config`
//! and diagnostics), touching no socket, engine, effect, log or timer; the
//! loop stays the only thread that does, and applies the result when the
//! worker's pipe says it is there, as one more event. The worker runs at
//! normal scheduling even when the loop is real-time, so it never competes
//! with it nor counts against RLIMIT_RTTIME. Applying (engine build,
//! release, start: about 4 ms for 1,000 instances) stays on the loop, at
//! normal priority too (see `reload_inner`); it may allocate.
//!
//! A SIGHUP while a read is running does not start a second worker: the
//! running read is superseded, its result thrown away unapplied, and the
//! file read again once it ends. So one worker at a time, results applied
//! in order, and the configuration running at the end is the file as it
//! was after the last SIGHUP. Applying the superseded read first could
//! apply a half-edited file, dropping instances for a moment.

use std::path::Path;

use super::log::rate_limits;
use super::scripts::Plan;
use super::startup::{host_checks, open_sockets, resolve, watch_files};
use super::{Daemon, Options, RateLimit};
use crate::config;
use crate::core::{Effects, Engine};
use crate::sys::clock;
use crate::sys::worker::Worker;

/// What the worker hands back: the configuration and what was found
/// wrong with it, including on this host (scripts that cannot run).
pub(super) struct Read {
    loaded: config::Loaded,
    host: Vec<config::Diagnostic>,
}

/// The pure part of a reload: files in, `Read` out. Runs on the worker.
fn read(path: &Path, config_id: &str) -> Read {
    let loaded = config::load(path, config_id);
    // A configuration with errors is only partly read: checking its
    // scripts would report noise.
    let host = if loaded.has_errors() { Vec::new() } else { host_checks(&loaded.config) };
    Read { loaded, host }
}

/// The reload in progress, owned by the loop's control task.
#[derive(Default)]
pub(super) struct Reloads {
    worker: Option<Worker<Read>>,
    /// A SIGHUP came while reading: read again when this read ends.
    again: bool,
}

impl Reloads {
    /// SIGHUP (keepalived-reference §3.4): starts reading the configuration,
    /// or, if a read is running, has it done again when it ends.
    pub(super) fn start(&mut self, d: &mut Daemon, opts: &Options) -> Option<bool> {
        if self.worker.is_some() {
            if !self.again {
                log!(d.log, "reload: SIGHUP while reading the configuration; reading it again when this read ends");
            }
            self.again = true;
            return None;
        }
        log!(d.log, "Reloading {}", opts.config.display());
        if let Some(sd) = &d.sd {
            sd.send("RELOADING=1");
        }
        self.spawn(d, opts)
    }

    /// Starts the worker. Should the thread not start (no memory, thread
    /// limit), the configuration is read here, on the loop, as before:
    /// late adverts are better than a reload that never happens. Returns
    /// the reload's outcome in that case.
    fn spawn(&mut self, d: &mut Daemon, opts: &Options) -> Option<bool> {
        let (path, id) = (opts.config.clone(), opts.config_id.clone());
        match crate::sys::worker::spawn(move || read(&path, &id)) {
            Ok(w) => {
                self.worker = Some(w);
                None
            }
            Err(e) => {
                log!(d.log, "reload: cannot start a thread to read the configuration ({e}); reading it here");
                Some(d.reload_with(read(&opts.config, &opts.config_id)))
            }
        }
    }

    /// Completes when the running read has ended; never if none runs.
    pub(super) async fn finished(&self) {
        match &self.worker {
            Some(w) => w.finished().await,
            None => core::future::pending().await,
        }
    }

    /// The read ended: applies it, or reads again if a SIGHUP superseded
    /// it. Returns, once the reload is over, whether the configuration
    /// changed (the receive sockets may then be others: the caller
    /// restarts their readers); `None` while it goes on.
    pub(super) fn finish(&mut self, d: &mut Daemon, opts: &Options) -> Option<bool> {
        let read = self.worker.take()?.take();
        if core::mem::take(&mut self.again) {
            return self.spawn(d, opts);
        }
        match read {
            Some(r) => Some(d.reload_with(r)),
            None => {
                // Only if the reactor failed the pipe: the worker's panic
                // aborts the daemon.
                log!(d.log, "reload: reading the configuration failed; keeping the running one");
                d.reload_over();
                Some(false)
            }
        }
    }
}

impl Daemon {
    /// A configuration with errors, or naming an interface that does not
    /// exist, changes nothing. Otherwise instances that stay the same
    /// virtual router keep their state; masters that go send priority 0
    /// and release their addresses, and addresses dropped from a
    /// surviving master are removed; new instances start as at boot.
    /// Returns whether the configuration changed.
    fn reload_with(&mut self, read: Read) -> bool {
        let done = self.reload_inner(read);
        self.reload_over();
        done
    }

    /// `Type=notify`: RELOADING=1 went out at the SIGHUP; this closes it.
    fn reload_over(&self) {
        if let Some(sd) = &self.sd {
            sd.send("READY=1");
        }
    }

    fn reload_inner(&mut self, read: Read) -> bool {
        // Building and starting an engine is work without a blocking call:
        // at real-time priority, for a large configuration, it could starve
        // the machine and reach RLIMIT_RTTIME. The new configuration's
        // scheduling is set at the end (the old one's if it is refused).
        let was_rt = crate::sys::sched::is_realtime();
        if was_rt {
            let _ = crate::sys::sched::set_normal();
        }
        let done = self.reload_work(read);
        if !done && was_rt {
            let _ = crate::sys::sched::set_realtime(self.rt_priority.unwrap_or(1));
        }
        done
    }

    fn reload_work(&mut self, read: Read) -> bool {
        let Read { loaded, host } = read;
        for d in &loaded.diagnostics {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        for d in &host {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        if loaded.has_errors() || host.iter().any(|d| d.severity == config::Severity::Error) {
            log!(self.log, "reload: the configuration has errors; keeping the running one");
            return false;
        }
        // What follows keeps the loop busy (tens of milliseconds for 1,000
        // instances): every master advertises now, early rather than late
        // (the new engine's masters advertise again at the swap). A 100 ms
        // master's gap over a reload was its interval plus that time:
        // 105 ms with 1,000 instances.
        self.advertise_early();
        // A dry run creates no macvlans: its engine homes their VIPs on
        // the base interfaces (`dry_run::without_vmacs`).
        let stripped = self.dry.as_ref().and_then(|_| super::dry_run::without_vmacs(&loaded.config));
        let config = stripped.as_ref().unwrap_or(&loaded.config);
        if !self.vmacs.matches(config) {
            log!(
                self.log,
                "reload: the `use_vmac` interfaces would change (added, removed, renamed or vmac_xmit_base); restart vipd for that; keeping the running configuration"
            );
            return false;
        }
        let dry = self.dry.is_some();
        let built = Plan::build(config).map(|p| if dry { super::dry_run::dry_plan(p) } else { p });
        let plan = match built.and_then(|p| watch_files(&p).map(|w| (p, w))) {
            Ok(p) => p,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        let mut engine = match Engine::new(config) {
            Ok(e) if self.dry.is_some() => {
                let mut e = e;
                e.ignore_split_brain();
                e
            }
            Ok(e) => e,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        let r = match resolve(&engine, &mut self.netlink) {
            Ok(r) => r,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        // Release what the old configuration held and the new one does not,
        // with the old engine, interfaces and scripts (removed instances
        // report STOP or DELETED with their old scripts).
        // Virtual routes and rules of masters, to remove those the new
        // configuration drops from an instance that stays master.
        let masters: Vec<(String, Vec<config::RouteConfig>, Vec<config::RuleConfig>)> = self
            .engine
            .instances()
            .iter()
            .filter(|i| i.state == crate::core::State::Master && !(i.cfg.routes.is_empty() && i.cfg.rules.is_empty()))
            // A dry run installed none: deleting them would delete a live
            // daemon's equal routes.
            .filter(|_| self.dry.is_none())
            .map(|i| (i.name().to_owned(), i.cfg.routes.clone(), i.cfg.rules.clone()))
            .collect();
        let mut release = Effects::with_capacity(self.engine.release_capacity());
        self.engine.release_for(&engine, &mut release);
        let fx = core::mem::replace(&mut self.fx, release);
        self.apply(clock::now());
        self.fx = fx;
        let old_sockets = core::mem::take(&mut self.sockets);
        let (sockets, socket_of) = match open_sockets(&engine, &r.ifindex, old_sockets) {
            Ok(s) => s,
            Err(e) => {
                // The old sockets are gone with the failed attempt; without
                // sockets an instance must not stay master.
                log!(self.log, "reload: {e}; stopping");
                // The old sockets went into the failed attempt: no index may
                // point at them while stopping releases the addresses.
                self.socket_of.iter_mut().for_each(|s| *s = [None, None]);
                self.stop();
                return true;
            }
        };
        let instances = engine.instances().len();
        let mut fx = Effects::with_capacity(engine.effects_capacity());
        let now = clock::now();
        core::mem::swap(&mut self.engine, &mut engine);
        let old_engine = engine;
        self.fx = Effects::with_capacity(self.engine.effects_capacity());
        self.sockets = sockets;
        self.socket_of = socket_of;
        self.vmacs.index(&self.engine);
        self.ifindex = r.ifindex;
        self.mac = r.mac;
        self.ip_id = vec![0; instances];
        self.log.limits = rate_limits(instances);
        self.send_errors = (0..instances).map(|_| RateLimit { last: None, suppressed: 0 }).collect();
        if self.dry.is_some() {
            self.dry = Some(super::dry_run::DryRun::new(instances));
        }
        // Outcomes of the old engine's sends (its priority 0) name its
        // instances: the new engine starts its runs afresh.
        self.sent = Vec::with_capacity(self.engine.sends_capacity());
        self.sent_spare = Vec::with_capacity(self.engine.sends_capacity());
        (self.plan, self.files) = plan;
        self.mail.reset();
        self.status.reset_runs();
        for p in self.notifier.adopt(&self.plan) {
            log!(self.log, "reload: {p}");
        }
        self.open_claims();
        self.report_system(now, &r.links, &r.addrs);
        self.processes = super::startup::watch_processes(&loaded.config).unwrap_or_else(|e| {
            log!(self.log, "reload: {e}");
            None
        });
        self.read_files(now);
        self.read_processes(now);
        self.engine.start_from(&old_engine, now, &mut fx);
        self.fx = fx;
        for (name, routes, rules) in &masters {
            let Some(i) = self.engine.instances().iter().find(|i| i.name() == name.as_str()) else { continue };
            let routes: Vec<config::RouteConfig> =
                routes.iter().filter(|r| !i.cfg.routes.contains(r)).cloned().collect();
            let rules: Vec<config::RuleConfig> = rules.iter().filter(|r| !i.cfg.rules.contains(r)).cloned().collect();
            super::routes::routes_and_rules(&mut self.netlink, &self.log, name, &routes, &rules, false);
        }
        self.reconcile_statics(super::dry_run::statics(&loaded.config, self.dry.is_some()));
        self.apply(now);
        self.rearm();
        drop(old_engine);
        self.fresh_buffers();
        // Last: the start's effects (a new backup removes every address it
        // has, 40,000 netlink requests for a pathological one) ran at
        // normal priority, where they cannot reach RLIMIT_RTTIME.
        self.schedule(&loaded.config);
        log!(self.log, "Reload finished: {instances} instance(s)");
        true
    }
}
