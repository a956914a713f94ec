//! Virtual addresses and their announcements: adding and removing an
//! instance's addresses over netlink on the interface the engine says
//! holds each one (never looked up by name here), gratuitous ARPs and
//! unsolicited NAs sent in rounds, spaced by `vrrp_garp_interval` /
//! `vrrp_gna_interval` per interface and queued until their turn. Called
//! from `apply` only; the queue has a fixed capacity so that nothing here
//! allocates.

use core::net::IpAddr;

use super::{Daemon, Log};
use crate::config;
use crate::core::{Engine, IfaceId, InstanceId};
use crate::sys::clock;
use crate::sys::garp::Announcer;
use crate::sys::netlink::Netlink;
use crate::time::Instant;

/// One GARP or NA spaced out by the configured interval.
#[derive(Clone, Copy)]
pub(super) struct PendingAnnounce {
    pub(super) at: Instant,
    pub(super) iface: IfaceId,
    pub(super) addr: IpAddr,
}

/// Pending announcements kept without growing: more than this many
/// (hundreds of addresses × rounds) are sent at once rather than queued.
pub(super) const PENDING_MAX: usize = 4096;

/// One GARP (IPv4) or unsolicited NA (IPv6) for `addr` on `iface`.
fn announce_one(
    announcer: &Announcer,
    log: &Log,
    engine: &Engine,
    ifindex: &[u32],
    mac: &[[u8; 6]],
    iface: IfaceId,
    addr: IpAddr,
) {
    let f = usize::from(iface.0);
    let (Some(&index), Some(&mac)) = (ifindex.get(f), mac.get(f)) else { return };
    let r = match addr {
        IpAddr::V4(a) => announcer.garp(index, mac, a),
        IpAddr::V6(a) => {
            let router = engine.ifaces().get(f).is_some_and(|i| Announcer::forwarding(&i.name));
            announcer.na(index, mac, a, router)
        }
    };
    if let Err(e) = r {
        log!(log, "cannot announce {addr}: {e}");
    }
}

/// Adds or removes one address of instance `name` on `iface`.
pub(super) fn vip_change(
    netlink: &mut Netlink,
    log: &Log,
    ifindex: &[u32],
    name: &str,
    v: &config::VipConfig,
    iface: IfaceId,
    add: bool,
) {
    let Some(index) = ifindex.get(usize::from(iface.0)).copied().filter(|&x| x != 0) else {
        return;
    };
    let r = if add { netlink.add_addr(index, v) } else { netlink.del_addr(index, v) };
    if let Err(e) = r {
        let what = if add { "add" } else { "remove" };
        log!(log, "({name}) cannot {what} {}/{}: {e}", v.addr, v.prefix);
    }
}

impl Daemon {
    pub(super) fn vips(&mut self, inst: InstanceId, add: bool) {
        let Some(i) = self.engine.instance(inst) else { return };
        for (v, iface) in i.addresses() {
            vip_change(&mut self.netlink, &self.log, &self.ifindex, i.name(), v, iface, add);
        }
        if !add {
            // Never announce an address we no longer hold.
            let held = |a: IpAddr| i.cfg.vips.iter().chain(&i.cfg.excluded_vips).any(|v| v.addr == a);
            self.pending.retain(|p| !held(p.addr));
        }
        if self.log.detail {
            let what = if add { "setting" } else { "removing" };
            log!(self.log, "({}) {what} VIPs.", i.name());
        }
    }

    /// One address of the instance, numbered as `Instance::addresses`.
    pub(super) fn remove_vip(&mut self, inst: InstanceId, k: u32) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some((v, iface)) = i.vip(k as usize) else { return };
        vip_change(&mut self.netlink, &self.log, &self.ifindex, i.name(), v, iface, false);
    }

    pub(super) fn announce(&mut self, inst: InstanceId, rounds: u8) {
        let Some(i) = self.engine.instance(inst) else { return };
        let now = clock::now();
        for _ in 0..rounds {
            for (v, f) in i.addresses() {
                let fam = usize::from(v.addr.is_ipv6());
                let gap = self.garp_gap[fam];
                let slot = &mut self.next_free[usize::from(f.0)][fam];
                let at = (*slot).max(now);
                if !gap.is_zero() {
                    *slot = at + gap;
                }
                if at > now && self.pending.len() < PENDING_MAX {
                    self.pending.push(PendingAnnounce { at, iface: f, addr: v.addr });
                } else {
                    announce_one(&self.announcer, &self.log, &self.engine, &self.ifindex, &self.mac, f, v.addr);
                }
            }
        }
        if self.log.detail {
            log!(self.log, "({}) Sending/queueing {rounds} round(s) of gratuitous ARPs/NAs", i.name());
        }
    }

    /// Sends the queued announcements that are due, in order.
    pub(super) fn send_pending(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.pending.len() {
            let p = self.pending[k];
            if p.at <= now {
                announce_one(&self.announcer, &self.log, &self.engine, &self.ifindex, &self.mac, p.iface, p.addr);
                self.pending.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    pub(super) fn announce_source(&mut self, inst: InstanceId) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some(src) = self.engine.source_addr(inst) else { return };
        let f = usize::from(i.iface.0);
        let r = match src {
            IpAddr::V4(a) => self.announcer.garp(self.ifindex[f], self.mac[f], a),
            IpAddr::V6(a) => self.announcer.na(self.ifindex[f], self.mac[f], a, false),
        };
        if let Err(e) = r {
            log!(self.log, "({}) cannot announce {src}: {e}", i.name());
        }
    }
}
