//! SIGHUP: reading the new configuration, refusing it when it has errors,
//! carrying out what the old engine says it must release for the new one
//! (`Engine::release_for`: what to release is the engine's decision), and
//! swapping engine, sockets and plans in one go. Runs at normal scheduling
//! priority (see `reload_inner`) and may allocate; it must not keep
//! anything of the old configuration but what `Engine::start_from` carries
//! over.

use std::path::Path;

use super::log::rate_limits;
use super::scripts::Plan;
use super::startup::{host_checks, open_sockets, resolve, watch_files};
use super::{Daemon, RateLimit};
use crate::config;
use crate::core::{Effects, Engine};
use crate::sys::clock;

impl Daemon {
    /// SIGHUP (keepalived-reference §3.4). A configuration with errors, or
    /// naming an interface that does not exist, changes nothing. Otherwise
    /// instances that stay the same virtual router keep their state; masters
    /// that go send priority 0 and release their addresses, and addresses
    /// dropped from a surviving master are removed; new instances start as
    /// at boot. Returns whether the configuration changed (the receive
    /// sockets may then be others: the caller restarts their readers).
    pub(super) fn reload(&mut self, path: &Path, config_id: &str) -> bool {
        log!(self.log, "Reloading {}", path.display());
        if let Some(sd) = &self.sd {
            sd.send("RELOADING=1");
        }
        let done = self.reload_inner(path, config_id);
        if let Some(sd) = &self.sd {
            sd.send("READY=1");
        }
        done
    }

    fn reload_inner(&mut self, path: &Path, config_id: &str) -> bool {
        // Reading and checking a configuration is long work without a
        // blocking call: at real-time priority it could starve the machine
        // and reach RLIMIT_RTTIME. The new configuration's scheduling is
        // set at the end (the old one's if the reload is refused).
        let was_rt = crate::sys::sched::is_realtime();
        if was_rt {
            let _ = crate::sys::sched::set_normal();
        }
        let done = self.reload_work(path, config_id);
        if !done && was_rt {
            let _ = crate::sys::sched::set_realtime(self.rt_priority.unwrap_or(1));
        }
        done
    }

    fn reload_work(&mut self, path: &Path, config_id: &str) -> bool {
        let loaded = config::load(path, config_id);
        for d in &loaded.diagnostics {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        let host = if loaded.has_errors() { Vec::new() } else { host_checks(&loaded.config) };
        for d in &host {
            log!(self.log, "{}", d.display(&loaded.sources));
        }
        if loaded.has_errors() || host.iter().any(|d| d.severity == config::Severity::Error) {
            log!(self.log, "reload: the configuration has errors; keeping the running one");
            return false;
        }
        let plan = match Plan::build(&loaded.config).and_then(|p| watch_files(&p).map(|w| (p, w))) {
            Ok(p) => p,
            Err(e) => {
                log!(self.log, "reload: {e}; keeping the running configuration");
                return false;
            }
        };
        let mut engine = match Engine::new(&loaded.config) {
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
        self.ifindex = r.ifindex;
        self.mac = r.mac;
        self.ip_id = vec![0; instances];
        self.log.limits = rate_limits(instances);
        self.send_errors = (0..instances).map(|_| RateLimit { last: None, suppressed: 0 }).collect();
        // Outcomes of the old engine's sends (its priority 0) name its
        // instances: the new engine starts its runs afresh.
        self.sent = Vec::with_capacity(self.engine.sends_capacity());
        self.sent_spare = Vec::with_capacity(self.engine.sends_capacity());
        (self.plan, self.files) = plan;
        self.status.reset_runs();
        for p in self.notifier.adopt(&self.plan) {
            log!(self.log, "reload: {p}");
        }
        self.open_claims();
        self.report_system(now, &r.links, &r.addrs);
        self.read_files(now);
        self.schedule(&loaded.config);
        self.engine.start_from(&old_engine, now, &mut fx);
        self.fx = fx;
        self.apply(now);
        self.rearm();
        log!(self.log, "Reload finished: {instances} instance(s)");
        true
    }
}
