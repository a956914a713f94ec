//! What comes into the loop besides signals: VRRP packets, netlink events
//! (and the resync after an overrun, and an interface back under a new
//! index), the timerfd and its re-arming, check script results and tracked
//! file values. Each becomes an `Event` for `Daemon::handle`; nothing here
//! acts on effects itself. The packet, netlink and timer paths run on every
//! wakeup and must not allocate.

use core::net::IpAddr;
use std::io;

use super::Daemon;
use super::scripts;
use super::startup::open_sockets;
use crate::core::{Event, IfaceId, RxAdvert, State};
use crate::sys::clock;
use crate::sys::netlink::{self, NetEvent};
use crate::sys::vrrp::{Rx, VrrpSocket};
use crate::time::Instant;
use crate::wire::vrrp::Advert;

impl Daemon {
    pub(super) fn iface_of_index(&self, index: u32) -> Option<IfaceId> {
        self.ifindex.iter().position(|&i| i == index && i != 0).map(|i| IfaceId(i as u16))
    }

    pub(super) fn on_packet(&mut self, sock: usize) -> io::Result<bool> {
        // A reader may run once more after its socket was replaced, before
        // the loop restarts the readers: an index that is gone reads nothing.
        let Some(s) = self.sockets.get(sock) else { return Ok(false) };
        let Some(iface) = self.iface_of_index(s.ifindex()) else { return Ok(false) };
        let family = s.family();
        let Some(s) = self.sockets.get_mut(sock) else { return Ok(false) };
        let rx = match s.recv()? {
            None => return Ok(false),
            Some(Rx::Bad { error, .. }) => Err(error),
            Some(Rx::Packet { src, dst, ttl, payload }) => {
                let n = payload.len().min(self.rx_copy.len());
                self.rx_copy[..n].copy_from_slice(&payload[..n]);
                Ok((src, dst, ttl, n))
            }
        };
        let now = clock::now();
        match rx {
            Err(error) => self.handle(now, Event::RxError { iface, family, vrid: None, error }),
            Ok((src, dst, ttl, n)) => {
                // The advert borrows `rx_copy` while the engine and the effect
                // buffer are borrowed mutably: disjoint fields, no copy.
                self.fx.clear();
                match Advert::parse(&self.rx_copy[..n], src, dst) {
                    Ok((advert, checksum)) => {
                        let ev = Event::Advert(RxAdvert { iface, src, dst, ttl, advert, checksum });
                        self.engine.handle(now, ev, &mut self.fx);
                    }
                    Err(error) => {
                        let vrid = crate::wire::vrrp::peek_vrid(&self.rx_copy[..n]);
                        self.engine.handle(now, Event::RxError { iface, family, vrid, error }, &mut self.fx);
                    }
                }
                self.apply(now);
                self.report_sends(now);
                self.rearm();
            }
        }
        Ok(true)
    }

    /// One frame from ARP/NA watcher `k`. False when nothing was queued.
    /// Only a claim for a VIP configured on that interface becomes an event.
    pub(super) fn on_claim(&mut self, k: usize) -> io::Result<bool> {
        // As for adverts: a watcher replaced meanwhile reads nothing.
        let Some(w) = self.claims.get(k) else { return Ok(false) };
        let Some(iface) = self.iface_of_index(w.sock.ifindex()) else { return Ok(false) };
        let own = self.mac.get(usize::from(iface.0)).copied().unwrap_or_default();
        match w.sock.recv(own)? {
            crate::sys::claims::Recv::Empty => Ok(false),
            crate::sys::claims::Recv::Other => Ok(true),
            crate::sys::claims::Recv::Claim { addr, hw } => {
                if w.vips.contains(&addr) {
                    let now = clock::now();
                    self.log_claim(now, iface, addr, hw);
                    self.handle(now, Event::AddressClaimed { iface, addr, hw });
                }
                Ok(true)
            }
        }
    }

    pub(super) fn on_netlink(&mut self) {
        while let Some(ev) = self.netlink.next_event() {
            let now = clock::now();
            match ev {
                NetEvent::Link { index, up, deleted, name, mac } => {
                    if !deleted {
                        self.follow_new_index(&name, index, mac);
                    }
                    if let Some(iface) = self.iface_of_index(index) {
                        self.handle(now, Event::Link { iface, up: up && !deleted });
                    }
                }
                NetEvent::Addr { index, addr, present, .. } => {
                    if let Some(iface) = self.iface_of_index(index) {
                        self.handle(now, Event::Address { iface, addr, present });
                    }
                }
                NetEvent::Overrun => {
                    log!(self.log, "netlink: receive buffer overrun, re-reading links and addresses");
                    self.resync(now);
                }
            }
        }
    }

    /// An interface of ours came back under a new index (deleted and
    /// created again): follow it and reopen its VRRP sockets, which were
    /// bound to the old one. The event loop restarts the socket readers.
    fn follow_new_index(&mut self, name: &str, index: u32, mac: Option<[u8; 6]>) {
        let Some(id) = self.engine.iface_by_name(name) else { return };
        let f = usize::from(id.0);
        if self.ifindex.get(f) == Some(&index) {
            // Same interface; its MAC may have changed (bond fail-over).
            if let (Some(m), Some(slot)) = (mac, self.mac.get_mut(f)) {
                *slot = m;
            }
            return;
        }
        if f >= self.ifindex.len() {
            return;
        }
        self.ifindex[f] = index;
        if let Some(m) = mac {
            self.mac[f] = m;
        }
        let keep: Vec<VrrpSocket> =
            core::mem::take(&mut self.sockets).into_iter().filter(|s| self.ifindex.contains(&s.ifindex())).collect();
        match open_sockets(&self.engine, &self.ifindex, keep) {
            Ok((sockets, socket_of)) => {
                self.sockets = sockets;
                self.socket_of = socket_of;
                self.open_claims();
                log!(self.log, "interface `{name}` is back as index {index}; its sockets are reopened");
            }
            Err(e) => {
                // Without sockets no instance may stay master.
                log!(self.log, "interface `{name}` is back but {e}; stopping");
                self.socket_of.iter_mut().for_each(|s| *s = [None, None]);
                self.stop();
            }
        }
        let _ = self.sockets_changed.try_send(());
    }

    /// After a netlink overrun the events in between are lost: compare a
    /// fresh dump with what the engine knows and report the differences,
    /// deletions included (a link gone, a source address gone, a VIP
    /// deleted by hand).
    fn resync(&mut self, now: Instant) {
        let (links, addrs) = match self.netlink.dump() {
            Ok(d) => d,
            Err(e) => {
                log!(self.log, "netlink: cannot re-read links and addresses: {e}");
                return;
            }
        };
        for l in &links {
            if !l.name.is_empty() {
                self.follow_new_index(l.name.as_str(), l.index, l.mac);
            }
            if let Some(iface) = self.iface_of_index(l.index) {
                self.handle(now, Event::Link { iface, up: netlink::link_is_up(l) });
            }
        }
        // Additions before removals, so a replaced source address never
        // looks missing in between.
        for a in addrs.iter().filter(|a| netlink::source_ready(a)) {
            if let Some(iface) = self.iface_of_index(a.index) {
                self.handle(now, Event::Address { iface, addr: a.addr, present: true });
            }
        }
        for f in 0..self.ifindex.len() {
            let index = self.ifindex[f];
            let iface = IfaceId(f as u16);
            if !links.iter().any(|l| l.index == index) {
                self.handle(now, Event::Link { iface, up: false });
                continue;
            }
            let on_link =
                |a: &IpAddr| addrs.iter().any(|x| x.index == index && x.addr == *a && netlink::source_ready(x));
            let gone: Vec<IpAddr> = self.engine.ifaces()[f].addrs().iter().copied().filter(|a| !on_link(a)).collect();
            // Addresses masters hold on this interface.
            let mut lost_vips: Vec<IpAddr> = Vec::new();
            for i in self.engine.instances().iter().filter(|i| i.state == State::Master) {
                for (v, dev) in i.addresses() {
                    if dev == iface && !on_link(&v.addr) {
                        lost_vips.push(v.addr);
                    }
                }
            }
            for addr in gone.into_iter().chain(lost_vips) {
                self.handle(now, Event::Address { iface, addr, present: false });
            }
        }
    }

    pub(super) fn on_timer(&mut self) {
        let mut expirations = [0u8; 8];
        let _ = rustix::io::read(&self.timer, &mut expirations);
        self.armed = None;
        if !self.due_timers() {
            self.rearm();
        }
    }

    /// The engine's timer event if a deadline is due, the sockets read
    /// first (`drain_before_timer`); whether it was due.
    fn due_timers(&mut self) -> bool {
        if self.engine.next_deadline().is_none_or(|t| t > clock::now()) {
            return false;
        }
        self.drain_before_timer();
        let now = clock::now();
        let due = self.engine.next_deadline().is_some_and(|t| t <= now);
        if due {
            self.handle(now, Event::Timer);
        }
        due
    }

    /// Acts on a due timer from outside the hot path. Work that runs as
    /// executor tasks (a round of check scripts: each reaped, its result
    /// handed to the engine, the next run cloned) can take the thread for
    /// milliseconds, and the hot path gets its turn only after the tasks
    /// that were ready: 50 checks timing out together delayed a 10 ms
    /// advert by up to 9 ms (strace: the timerfd read after all 50). The
    /// tasks call this between two pieces of such work. The timerfd stays
    /// armed; when it fires with nothing due, `on_timer` re-arms it.
    pub(super) fn run_due_timers(&mut self) {
        // The STOP notify scripts run after the shutdown: nothing of the
        // engine's may happen on their account.
        if !self.stopping {
            self.due_timers();
        }
    }

    /// Reads what every VRRP socket holds before a due timer is acted on
    /// (issue 12). The hot path serves at most 64 packets a socket per
    /// wakeup, so under a flood of valid lower-priority adverts the
    /// master's advert can still sit in the queue behind them when a
    /// starved backup's down timer is seen due; acting then would make a
    /// second master. The bound exceeds what the receive buffer can hold
    /// (at most 512 KiB, and each queued packet is charged more than 512
    /// bytes of it), so everything
    /// queued when the timer was noticed is read, yet a flood cannot keep
    /// the timer waiting (a few milliseconds at most). No allocation.
    fn drain_before_timer(&mut self) {
        const BOUND: usize = 1024;
        for sock in 0..self.sockets.len() {
            for _ in 0..BOUND {
                match self.on_packet(sock) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        self.log.line(format_args!("receive error: {e}"));
                        break;
                    }
                }
            }
        }
    }

    pub(super) fn rearm(&mut self) {
        // Instance timers and queued announcements alike.
        let next = self.engine.next_deadline();
        // Re-armed only when the earliest deadline moved earlier: a later
        // one (a backup's down timer pushed back by each advert, 1,000
        // times a second with 1,000 instances) lets the timer fire early,
        // find nothing due and re-arm then (`on_timer`). A settime per
        // advert was ~7% of a busy backup's profile.
        if next == self.armed || matches!((next, self.armed), (None, Some(_))) {
            return;
        }
        if let (Some(n), Some(a)) = (next, self.armed) {
            if n > a {
                return;
            }
        }
        // Zero disarms; a deadline already past fires at once (1 ns).
        let (sec, nsec) = match next {
            None => (0, 0),
            Some(t) => {
                let us = t.as_micros().max(1);
                ((us / 1_000_000) as i64, ((us % 1_000_000) * 1_000) as i64)
            }
        };
        let spec = rustix::time::Itimerspec {
            it_interval: rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: rustix::time::Timespec { tv_sec: sec, tv_nsec: nsec },
        };
        match rustix::time::timerfd_settime(&self.timer, rustix::time::TimerfdTimerFlags::ABSTIME, &spec) {
            // Remembered only when armed, so a failure is retried next time.
            Ok(_) => self.armed = next,
            Err(e) => log!(self.log, "cannot arm the timer: {e}"),
        }
    }

    /// A check script finished: log a change of verdict, then tell the
    /// engine.
    pub(super) fn script_result(
        &mut self,
        check: &scripts::CheckPlan,
        exit: &crate::sys::script::Exit,
        took: std::time::Duration,
    ) {
        self.status.script_ran(check.tracker, exit, scripts::describe(exit), took, clock::now());
        let before = self.engine.tracker_status(check.tracker);
        // For the verdict line the engine asks for (LogEvent::ScriptStatus).
        self.last_exit = Some((check.name.clone(), scripts::describe(exit)));
        self.handle(clock::now(), Event::ScriptResult { tracker: check.tracker, success: exit.success() });
        self.last_exit = None;
        if before == self.engine.tracker_status(check.tracker) && !exit.success() && self.log.detail {
            log!(self.log, "VRRP_Script({}) run failed ({})", check.name, scripts::describe(exit));
        }
    }

    /// Current values of the tracked files, as at start and after a reload.
    pub(super) fn read_files(&mut self, now: Instant) {
        let mut values = Vec::new();
        if let Some(w) = &self.files {
            w.read_all(&mut |k, v| values.push((k, v)));
        }
        self.file_values(now, &values);
    }

    /// The tracked files' directory changed.
    pub(super) fn on_files(&mut self) {
        let mut values = Vec::new();
        if let Some(w) = &mut self.files {
            w.drain(&mut |k, v| values.push((k, v)));
        }
        self.file_values(clock::now(), &values);
    }

    fn file_values(&mut self, now: Instant, values: &[(usize, i64)]) {
        for &(k, value) in values {
            let Some((tracker, path, ..)) = self.plan.files.get(k) else { continue };
            let tracker = *tracker;
            if self.log.detail {
                log!(self.log, "tracked file {} now holds {value}", path.display());
            }
            self.handle(now, Event::FileValue { tracker, value });
        }
    }

    /// Every process tracker's count and verdict, as at start and after a
    /// reload.
    pub(super) fn read_processes(&mut self, now: Instant) {
        self.poll_processes(now, true);
    }

    /// Process events arrived, or a `fork_delay`/`terminate_delay` ended.
    pub(super) fn on_processes(&mut self) {
        self.poll_processes(clock::now(), false);
    }

    /// `all`: every tracker, changed or not (start, reload), not logged.
    fn poll_processes(&mut self, now: Instant, all: bool) {
        let mut changes = Vec::new();
        if let Some((w, _)) = &mut self.processes {
            w.poll(now, all, &mut |c| changes.push(c));
        }
        self.process_changes(now, &changes, !all);
    }

    fn process_changes(&mut self, now: Instant, changes: &[crate::sys::cnproc::Change], log: bool) {
        for c in changes {
            let Some(&tracker) = self.processes.as_ref().and_then(|(_, ids)| ids.get(c.index)) else { continue };
            let before = self.engine.trackers().get(usize::from(tracker.0)).map(|t| t.status);
            self.handle(now, Event::FileValue { tracker, value: i64::from(c.count) });
            self.handle(now, Event::ScriptResult { tracker, success: c.up });
            let after = self.engine.trackers().get(usize::from(tracker.0)).map(|t| t.status);
            if log && (before != after || self.log.detail) {
                let name = self.engine.tracker_names().get(usize::from(tracker.0)).map_or("", String::as_str);
                let v = if c.up { "up" } else { "down" };
                log!(self.log, "Track_process({name}) {v}, {} running", c.count);
            }
        }
    }
}
