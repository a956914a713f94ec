//! Virtual addresses and their announcements carried out: adding and
//! removing an instance's addresses over netlink on the interface the
//! engine says holds each one, and sending the one GARP (IPv4) or
//! unsolicited NA (IPv6) each `Effect::AnnounceAddr` asks for. Called from
//! `apply` only. When to announce, how often and how spaced is the
//! engine's (`core::announce`); nothing here schedules, reads the clock or
//! looks an interface up by name, and nothing here allocates.

use core::net::IpAddr;

use super::{Daemon, Log};
use crate::config;
use crate::core::{IfaceId, InstanceId};
use crate::sys::garp::Announcer;
use crate::sys::netlink::Netlink;

/// The ifindex of `iface`, if it has one now.
fn index_of(ifindex: &[u32], iface: IfaceId) -> Option<u32> {
    ifindex.get(usize::from(iface.0)).copied().filter(|&x| x != 0)
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
    let Some(index) = index_of(ifindex, iface) else { return };
    let r = if add { netlink.add_addr(index, v) } else { netlink.del_addr(index, v) };
    if let Err(e) = r {
        let what = if add { "add" } else { "remove" };
        log!(log, "({name}) cannot {what} {}/{}: {e}", v.addr, v.prefix);
    }
}

impl Daemon {
    pub(super) fn vips(&mut self, inst: InstanceId, add: bool) {
        let Some(i) = self.engine.instance(inst) else { return };
        let (log, netlink) = (&self.log, &mut self.netlink);
        // The requests go by the batch: a reload that resumes 1,000
        // masters, or a new backup clearing 40,000 excluded addresses,
        // held the loop past an advert with one request and answer each.
        let mut failed = |k: u32, add: bool, e: std::io::Error| {
            if let Some((v, _)) = i.vip(k as usize) {
                let what = if add { "add" } else { "remove" };
                log!(log, "({}) cannot {what} {}/{}: {e}", i.name(), v.addr, v.prefix);
            }
        };
        for (k, (v, iface)) in i.addresses().enumerate() {
            // An address netlink says is there already needs no request: a
            // reload resumes 1,000 masters whose addresses all are, and a
            // blocking request each held the loop for tens of ms. (Were
            // the knowledge stale, the deletion's event is on its way and
            // the engine treats it as any deleted VIP.)
            if add && i.vip_present(k) {
                continue;
            }
            let Some(index) = index_of(&self.ifindex, iface) else { continue };
            netlink.queue_addr(add, index, v, k as u32, &mut failed);
        }
        netlink.flush_addrs(&mut failed);
        if log.detail {
            let what = if add { "setting" } else { "removing" };
            log!(log, "({}) {what} VIPs.", i.name());
        }
    }

    /// One address of the instance, numbered as `Instance::addresses`.
    pub(super) fn remove_vip(&mut self, inst: InstanceId, k: u32) {
        let Some(i) = self.engine.instance(inst) else { return };
        let Some((v, iface)) = i.vip(k as usize) else { return };
        vip_change(&mut self.netlink, &self.log, &self.ifindex, i.name(), v, iface, false);
    }

    /// One GARP (IPv4) or unsolicited NA (IPv6) for `addr` on `iface`.
    pub(super) fn announce_addr(&mut self, iface: IfaceId, addr: IpAddr) {
        let f = usize::from(iface.0);
        let (Some(&index), Some(&mac)) = (self.ifindex.get(f), self.mac.get(f)) else { return };
        let r = match addr {
            IpAddr::V4(a) => self.announcer.garp(index, mac, a),
            IpAddr::V6(a) => {
                let router = self.engine.ifaces().get(f).is_some_and(|i| Announcer::forwarding(&i.name));
                self.announcer.na(index, mac, a, router)
            }
        };
        if let Err(e) = r {
            log!(self.log, "cannot announce {addr}: {e}");
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
