//! Received adverts at the engine level: finding the instance an advert
//! is for (interface, family, VRID, then group or peer), router-level
//! error counts for adverts nobody matched, handing a valid advert to its
//! instance, and the MASTER_RX_LOWER_PRI notify when a master answers a
//! lower-priority one. The per-instance checks and answers are in
//! `instance::rx`; what a sync group does in response is in `sync_group`.

use core::net::IpAddr;

use super::conditions::Evidence;
use super::instance::{MasterRx, Verdict};
use super::{Effect, Effects, Engine, IfaceId, Instance, LogEvent, NotifyEvent, RxAdvert, State};
use crate::config::Family;
use crate::time::Instant;
use crate::wire::WireError;

impl Engine {
    /// The instance an advert is for: same interface, family and VRID;
    /// among instances sharing those, a multicast advert goes to the one
    /// listening on its group and a unicast one to the one that has the
    /// sender as a peer. When none fits, the first instance gets it (and
    /// counts the mismatch).
    pub(super) fn lookup(
        &self,
        iface: IfaceId,
        family: Family,
        vrid: u8,
        rx: Option<(IpAddr, IpAddr)>,
    ) -> Option<usize> {
        let start = self.demux.partition_point(|r| r.key() < (iface, family, vrid));
        let mut first = None;
        for r in &self.demux[start..] {
            if r.key() != (iface, family, vrid) {
                break;
            }
            let i = usize::from(r.inst.0);
            let inst = &self.instances[i];
            let fits = rx.is_none_or(|(src, dst)| {
                if dst.is_multicast() { !inst.cfg.is_unicast() && inst.group_addr() == dst } else { inst.has_peer(src) }
            });
            if fits {
                return Some(i);
            }
            first.get_or_insert(i);
        }
        first
    }

    pub(super) fn rx_advert(&mut self, now: Instant, rx: &RxAdvert<'_>, fx: &mut Effects) {
        let family = Family::of(&rx.src);
        let Some(i) = self.lookup(rx.iface, family, rx.advert.vrid, Some((rx.src, rx.dst))) else {
            count(&mut self.global_errors[WireError::VrId.index()]);
            fx.push(Effect::Log(LogEvent::RxError { inst: None, src: Some(rx.src), error: WireError::VrId }));
            return;
        };
        self.touch(i);
        // RFC 9568 §6.4: adverts are ignored in Initialize; keepalived also
        // ignores them in Fault.
        if matches!(self.instances[i].state, State::Init | State::Fault) {
            return;
        }
        let ours = self.source_of(&self.instances[i]);
        let inst = &mut self.instances[i];
        inst.heard_from(now, rx.src, fx);
        let drop = |inst: &mut Instance, error: WireError, fx: &mut Effects| {
            inst.stats.count_error(error);
            fx.push(Effect::Log(LogEvent::RxError { inst: Some(inst.id), src: Some(rx.src), error }));
        };
        match inst.validate(rx) {
            Verdict::Accept(drift) if drift.is_empty() => inst.drift_gone(rx.src, fx),
            Verdict::Accept(drift) => inst.drift_evidence(now, rx.src, drift, fx),
            Verdict::Drop(error) => return drop(inst, error, fx),
            Verdict::DropDrift(error, drift) => {
                drop(inst, error, fx);
                return inst.drift_evidence(now, rx.src, drift, fx);
            }
            Verdict::Collision { count, first } => {
                drop(inst, WireError::AddressList, fx);
                let ev = Evidence::Collision { from: rx.src, count, first };
                return inst.collision_evidence(now, ev, fx);
            }
        }
        inst.note_accepted(now, rx, fx);
        let mark = fx.len();
        match inst.state {
            State::Backup => inst.backup_rx(now, rx, fx),
            State::Master => match inst.master_rx(now, rx, ours, fx) {
                MasterRx::Yield => self.group_follow_backup(i, now, fx),
                MasterRx::Lower => {
                    self.notify_lower_prio(i, mark, fx);
                    self.group_lower_prio_burst(i, now, fx);
                }
                MasterRx::Stay => {}
            },
            State::Init | State::Fault => {}
        }
    }

    /// MASTER_RX_LOWER_PRI for a master that heard a lower priority, when a
    /// script or FIFO hears it: placed just before its "forcing new
    /// election" line (pushed from `mark` on), so the notify is queued
    /// before that line is written and before the answer goes out.
    fn notify_lower_prio(&self, i: usize, mark: usize, fx: &mut Effects) {
        let inst = &self.instances[i];
        if !inst.notify_rx_lower {
            return;
        }
        let id = inst.id;
        let notify = Effect::NotifyEvent { inst: id, event: NotifyEvent::MasterRxLowerPri };
        let line = (mark..fx.len()).find(
            |&k| matches!(fx.get(k), Some(Effect::Log(LogEvent::MasterRxLowerPriority { inst, .. })) if inst == id),
        );
        match line {
            Some(k) => fx.insert(k, notify),
            None => fx.push(notify),
        }
    }
}

pub(super) fn count(c: &mut u64) {
    *c = c.saturating_add(1);
}
