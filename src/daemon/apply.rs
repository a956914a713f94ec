//! The engine's effects carried out: state lines logged first, then each
//! effect in the engine's order (adverts sent, addresses set or removed,
//! GARPs/NAs sent, notify scripts and FIFO lines queued), the old engine's
//! release on a reload included. This is the only place effects are read,
//! and every decision is already in them: nothing here infers a notify
//! from a log line or schedules an announcement. It must not feed events
//! back to the engine; what became of each advert send is recorded in
//! `Daemon::sent` and reported by `report_sends` after it returns. Runs on
//! every wakeup: nothing here may allocate.

use super::Daemon;
use super::scripts::What;
use super::startup::family_slot;
use super::tx::TxKey;
use crate::core::{Effect, InstanceId, LogEvent, NotifyEvent, NotifyState, State};
use crate::time::Instant;

/// A run of advert sends (one per destination) with the same outcome,
/// waiting to be reported as `Event::Sent`.
#[derive(Clone, Copy, Debug)]
pub(super) struct SendOutcome {
    pub(super) inst: InstanceId,
    pub(super) priority: u8,
    pub(super) ok: bool,
    pub(super) count: u16,
}

impl Daemon {
    pub(super) fn apply(&mut self, now: Instant) {
        // Taken out so effects can be carried out with `&mut self`; the
        // buffer goes back with its capacity, so nothing allocates.
        let mut fx = core::mem::take(&mut self.fx);
        // State lines first, as keepalived logs them before setting the
        // addresses; the effects themselves keep the engine's order.
        let dry = self.dry.is_some();
        for e in fx.iter() {
            if dry {
                self.dry_note(e);
            }
            match *e {
                Effect::StateChange { inst, from, to, reason, .. } if dry => self.log_would(inst, from, to, reason),
                Effect::StateChange { inst, from, to, reason, .. } => self.log_state(inst, from, to, reason),
                // A script's verdict, or adverts that cannot be sent, read
                // before the state change they cause.
                Effect::Log(l @ (LogEvent::ScriptStatus { .. } | LogEvent::SendFailing { .. })) => {
                    self.log_event(now, l)
                }
                _ => {}
            }
        }
        for e in fx.iter() {
            // Dry run: nothing reaches the network or the system.
            if dry && self.dry_effect(e) {
                continue;
            }
            // Queued adverts leave before any other effect: the wire sees
            // the engine's order.
            if !matches!(e, Effect::SendAdvert { .. }) {
                self.flush_adverts();
            }
            match *e {
                Effect::SendAdvert { inst, priority } => self.send_advert(inst, priority),
                Effect::AddVips { inst } => {
                    self.vips(inst, true);
                    self.virtual_routes(inst, true);
                }
                Effect::RemoveVips { inst } => {
                    self.virtual_routes(inst, false);
                    self.vips(inst, false);
                }
                Effect::RemoveVip { inst, vip } => self.remove_vip(inst, vip),
                Effect::Announce { inst, rounds } => {
                    if self.log.detail {
                        log!(
                            self.log,
                            "({}) Sending/queueing {rounds} round(s) of gratuitous ARPs/NAs",
                            self.name(inst)
                        );
                    }
                }
                Effect::AnnounceAddr { iface, addr } => self.announce_addr(iface, addr),
                Effect::AnnounceSource { inst } => self.announce_source(inst),
                // Logged above.
                Effect::StateChange { inst, to, notify, .. } => {
                    let state = match to {
                        State::Master => NotifyState::Master,
                        State::Backup => NotifyState::Backup,
                        State::Fault => NotifyState::Fault,
                        // Only shutdown stops an instance; its STOP notify
                        // follows as `Notify`.
                        State::Init => {
                            log!(self.log, "({}) Stopped", self.name(inst));
                            continue;
                        }
                    };
                    if notify {
                        self.notify_instance(inst, What::State(state));
                        self.mail_instance(inst, state);
                    }
                }
                Effect::Notify { inst, state } => self.notify_instance(inst, What::State(state)),
                Effect::NotifyEvent { inst, event } => {
                    let what = match event {
                        NotifyEvent::Deleted => What::Deleted,
                        NotifyEvent::MasterRxLowerPri => What::MasterRxLowerPri,
                        NotifyEvent::MasterPriority => What::MasterPriority,
                        NotifyEvent::BackupPriority => What::BackupPriority,
                    };
                    self.notify_instance(inst, what);
                }
                Effect::GroupState { group, state } => {
                    if let Some((name, set)) = self.plan.groups.get(usize::from(group.0)) {
                        log!(self.log, "VRRP_Group({name}) Syncing instances to {} state", state.name());
                        self.notifier.notify(set, true, name, What::State(state), 0);
                        if let Some(m) = &self.plan.mail {
                            self.mail.group(m, usize::from(group.0), name, state);
                            self.report_mail_drops();
                        }
                    }
                    self.report_fifo_drops();
                }
                // Logged with the state lines.
                Effect::Log(LogEvent::ScriptStatus { .. } | LogEvent::SendFailing { .. }) => {}
                Effect::Log(l) => self.log_event(now, l),
            }
        }
        self.flush_adverts();
        let changed = fx.iter().any(|e| matches!(e, Effect::StateChange { .. }));
        if changed
            || fx.iter().any(|e| {
                matches!(
                    e,
                    Effect::Log(
                        LogEvent::PriorityChanged { .. }
                            | LogEvent::ConditionRaised { .. }
                            | LogEvent::ConditionCleared { .. }
                    ) | Effect::GroupState { .. }
                )
            })
        {
            self.status.invalidate();
        }
        fx.clear();
        self.fx = fx;
        if changed {
            self.report_states();
        }
    }

    /// The one-line summary for `systemctl status`, after every transition
    /// (only then: it allocates, and transitions are rare).
    pub(super) fn report_states(&self) {
        let Some(sd) = self.sd.as_ref().filter(|_| self.sd_ready) else { return };
        let states = self.engine.instances().iter().map(|i| (i.name(), i.state));
        sd.send(&format!("STATUS={}", super::status::summary(states)));
    }

    /// Queues an instance's notify scripts and writes its FIFO line, with
    /// its effective priority now.
    fn notify_instance(&mut self, inst: InstanceId, what: What) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some((name, set)) = self.plan.instances.get(usize::from(inst.0)) else { return };
        self.notifier.notify(set, false, name, what, i.effective_priority);
        self.report_fifo_drops();
    }

    /// Queues the instance's e-mail alert, if it sends them.
    fn mail_instance(&mut self, inst: InstanceId, state: NotifyState) {
        let (Some(m), Some((name, _))) = (&self.plan.mail, self.plan.instances.get(usize::from(inst.0))) else {
            return;
        };
        self.mail.instance(m, usize::from(inst.0), name, state);
        self.report_mail_drops();
    }

    /// Alerts the SMTP server is too slow for are dropped, oldest first.
    /// Said on the first and then once per 100.
    fn report_mail_drops(&mut self) {
        let (dropped, last) = (self.mail.dropped, self.mail.dropped_logged);
        if dropped > last && (last == 0 || dropped / 100 > last / 100) {
            log!(self.log, "SMTP alerts fall behind the state changes: {dropped} alert(s) dropped so far");
            self.mail.dropped_logged = dropped;
        }
    }

    /// A FIFO nobody reads fills up; its lines are dropped, never waited
    /// for. Said once per 100 drops.
    fn report_fifo_drops(&mut self) {
        let dropped = self.notifier.fifo_dropped();
        let last = self.notifier.fifo_dropped_logged;
        if dropped > last && (last == 0 || dropped / 100 > last / 100) {
            log!(self.log, "notify FIFO full (nobody reading?): {dropped} line(s) dropped so far");
            self.notifier.fifo_dropped_logged = dropped;
        }
        let dropped = self.notifier.jobs_dropped;
        let last = self.notifier.jobs_dropped_logged;
        if dropped > last && (last == 0 || dropped / 100 > last / 100) {
            log!(self.log, "notify scripts fall behind their events: {dropped} run(s) dropped so far");
            self.notifier.jobs_dropped_logged = dropped;
        }
    }

    /// Queues the instance's advert (one per unicast peer) for the batch
    /// of its socket (`tx`); what is queued goes out before the next other
    /// effect, or at the end of this batch of effects.
    pub(super) fn send_advert(&mut self, inst: InstanceId, priority: u8) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some(src) = self.engine.source_addr(inst) else { return };
        let Some(sock) = self.socket_of[usize::from(i.iface.0)][family_slot(i.cfg.family)] else { return };
        // `use_vmac` without `vmac_xmit_base`: from the macvlan, so the
        // frame's source is the virtual MAC.
        let key = if self.vmacs.tx(inst).is_some() { TxKey::Vmac(inst) } else { TxKey::Base(sock) };
        let id = &mut self.ip_id[usize::from(inst.0)];
        *id = id.wrapping_add(1).max(1);
        let ip_id = *id;
        let ttl = if i.cfg.is_unicast() { i.cfg.unicast_ttl.unwrap_or(255) } else { 255 };
        let mode = i.cfg.v3_ipv4_checksum;
        let peers = if i.cfg.is_unicast() { i.cfg.unicast_peers.len() } else { 1 };
        for k in 0..peers {
            if !self.tx.fits(key) {
                self.flush_adverts();
            }
            let Some(i) = self.engine.instance(inst) else { return };
            let Some(advert) = self.engine.advert(inst, priority) else { return };
            let dst = if i.cfg.is_unicast() {
                let Some(p) = i.cfg.unicast_peers.get(k) else { return };
                p.addr
            } else {
                i.group_addr()
            };
            if let Err(e) = self.tx.push(key, &advert, (inst, priority), (src, dst), (ttl, ip_id), mode) {
                log!(self.log, "({}) cannot build advert: {e}", i.name());
            }
        }
        if priority == 0 && self.log.detail {
            log!(self.log, "({}) sent 0 priority", self.name(inst));
        }
    }
}
