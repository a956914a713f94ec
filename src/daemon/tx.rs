//! Adverts queued while effects are carried out and sent by the batch
//! (`VrrpSocket::send_batch`, one `sendmmsg`): consecutive `SendAdvert`
//! effects for the same socket, as every instance's advert falls due in
//! the same wakeup. Any other effect sends what is queued first, so the
//! engine's order on the wire is kept (an advert before the addresses and
//! GARPs of a new master), and so does the end of each batch of effects.
//! The outcome of each advert is recorded as an immediate send recorded it.
//! Fixed storage, allocated once: nothing here allocates on a wakeup.

use core::net::IpAddr;
use std::io;

use super::Daemon;
use super::apply::SendOutcome;
use super::log::ERROR_LOG_INTERVAL;
use crate::core::InstanceId;
use crate::sys::clock;
use crate::sys::vrrp::{BATCH, Outgoing};
use crate::wire::vrrp::{Advert, V3Ipv4Checksum};

/// Room for the queued messages' bytes: four of the largest VRRP message
/// (4,096 bytes), or a whole batch of ordinary ones.
const ARENA: usize = 4 * 4096;
const LARGEST: usize = 4096;

/// Which socket queued adverts leave by: an interface's shared one, or an
/// instance's `use_vmac` macvlan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TxKey {
    Base(usize),
    Vmac(InstanceId),
}

#[derive(Clone, Copy, Debug)]
struct Queued {
    inst: InstanceId,
    priority: u8,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: u16,
    off: usize,
    len: usize,
}

/// The adverts waiting for one socket.
pub(super) struct TxBatch {
    /// The socket of what is queued (None while nothing is).
    key: Option<TxKey>,
    arena: Box<[u8; ARENA]>,
    used: usize,
    items: heapless::Vec<Queued, BATCH>,
}

impl TxBatch {
    pub(super) fn new() -> TxBatch {
        TxBatch { key: None, arena: Box::new([0; ARENA]), used: 0, items: heapless::Vec::new() }
    }

    /// Whether one more advert for `key`, of any size, may join.
    pub(super) fn fits(&self, key: TxKey) -> bool {
        self.key.is_none_or(|k| k == key) && !self.items.is_full() && self.used + LARGEST <= ARENA
    }

    /// Emits `advert` for `dst` into the batch (which [`fits`] it).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push(
        &mut self,
        key: TxKey,
        advert: &Advert<'_>,
        (inst, priority): (InstanceId, u8),
        (src, dst): (IpAddr, IpAddr),
        (ttl, ip_id): (u8, u16),
        mode: V3Ipv4Checksum,
    ) -> Result<(), crate::wire::WireError> {
        let room = self.arena.get_mut(self.used..).unwrap_or_default();
        let len = advert.emit(room, src, dst, mode)?;
        // `fits` was asked first, so there is room.
        if self.items.push(Queued { inst, priority, src, dst, ttl, ip_id, off: self.used, len }).is_ok() {
            self.key = Some(key);
            self.used += len;
        }
        Ok(())
    }
}

impl Daemon {
    /// Sends what is queued, then records each advert's outcome.
    pub(super) fn flush_adverts(&mut self) {
        let Some(key) = self.tx.key.take() else { return };
        self.tx.used = 0;
        let queued = core::mem::take(&mut self.tx.items);
        let socket = match key {
            TxKey::Base(s) => self.sockets.get(s),
            TxKey::Vmac(inst) => self.vmacs.tx(inst),
        };
        // The socket went (a reload closed it): nothing was sent and
        // nothing is reported, as before batching.
        let Some(socket) = socket else { return };
        let mut errors: [Option<io::Error>; BATCH] = core::array::from_fn(|_| None);
        {
            let arena = &self.tx.arena;
            let out: heapless::Vec<Outgoing<'_>, BATCH> = queued
                .iter()
                .map(|q| Outgoing {
                    src: q.src,
                    dst: q.dst,
                    ttl: q.ttl,
                    ip_id: q.ip_id,
                    vrrp: arena.get(q.off..q.off + q.len).unwrap_or_default(),
                })
                .collect();
            socket.send_batch(&out, &mut |k, r| {
                if let (Err(e), Some(slot)) = (r, errors.get_mut(k)) {
                    *slot = Some(e);
                }
            });
        }
        for (q, e) in queued.iter().zip(errors.iter_mut()) {
            self.record_send(q.inst, q.priority, q.dst, e.take());
        }
    }

    /// One advert's outcome, for the engine (which judges a run of
    /// failures) and, rate-limited, for the log.
    fn record_send(&mut self, inst: InstanceId, priority: u8, dst: IpAddr, error: Option<io::Error>) {
        let ok = error.is_none();
        match self.sent.last_mut() {
            Some(s) if s.inst == inst && s.priority == priority && s.ok == ok && s.count < u16::MAX => s.count += 1,
            _ => self.sent.push(SendOutcome { inst, priority, ok, count: 1 }),
        }
        let Some(e) = error else { return };
        let Some(limit) = self.send_errors.get_mut(usize::from(inst.0)) else { return };
        let now = clock::now();
        if limit.last.is_none_or(|t| now.saturating_since(t) >= ERROR_LOG_INTERVAL) {
            limit.last = Some(now);
            let more = core::mem::take(&mut limit.suppressed);
            let name = self.engine.instance(inst).map_or("?", |i| i.name());
            log!(self.log, "({name}) cannot send advert to {dst}: {e} ({more} more since the last report)");
        } else {
            limit.suppressed = limit.suppressed.saturating_add(1);
        }
    }
}
