//! `use_vmac`: the macvlan interfaces holding the VIPs of an instance with
//! the RFC 5798 virtual router MAC, created before the engine resolves its
//! interfaces and deleted on exit, as keepalived does.
//!
//! - Created down on the instance's interface, with the virtual MAC, in
//!   bridge mode: in private mode the backup's macvlan would swallow the
//!   master's adverts (their source MAC is its own) before the base
//!   interface, where vipd listens, sees them. Before it goes up, IPv6 is
//!   disabled on it (IPv4 instances) or its link-local address generation
//!   is (`addr_gen_mode=1`, IPv6 instances), so a backup's macvlan never
//!   sends DAD or MLD frames from the virtual MAC (which would teach
//!   switches that the backup holds it).
//! - sysctls as keepalived sets them: on the macvlan `arp_ignore=1`,
//!   `accept_local=1`, `rp_filter=0`; on the base interface `arp_ignore=1`
//!   and `arp_filter=1` so it never answers ARP for a VIP with its own MAC.
//!   vipd adds `arp_announce=2` on the base: replies from a VIP leave
//!   through the base, and an ARP request the base sends for the client
//!   would otherwise carry the VIP as sender with the base's MAC, which
//!   the client takes as the VIP's new MAC (seen in tests/netns_vmac.rs).
//!   The base's old values are restored on exit.
//! - Adverts are received on the base interface (the VRRP group is joined
//!   there, never on the macvlan, so no IGMP report leaves from the virtual
//!   MAC); IPv4 adverts are sent from the macvlan, source MAC the virtual
//!   MAC, unless `vmac_xmit_base`; IPv6 adverts always from the base, from
//!   its link-local address (the macvlan has none). GARPs and NAs always
//!   leave from the macvlan, since the VIPs are on it: switches relearn
//!   the virtual MAC at once.
//! - A macvlan of that name that already has the virtual MAC (left by a
//!   crashed vipd or keepalived, or kept across an upgrade) is reused;
//!   another interface of that name is an error.

use crate::config::{Config, Family};
use crate::core::{Engine, InstanceId};
use crate::sys::netlink::Netlink;
use crate::sys::sysctl;
use crate::sys::vrrp::VrrpSocket;

/// One macvlan of the running configuration.
struct Link {
    name: String,
    base: String,
    mac: [u8; 6],
    xmit_base: bool,
    index: u32,
    /// The send-only socket adverts leave from (`None`: `vmac_xmit_base`).
    /// It joins no group and is never read.
    tx: Option<VrrpSocket>,
}

/// The macvlans and what to put back on exit.
#[derive(Default)]
pub(super) struct Vmacs {
    links: Vec<Link>,
    /// Base interfaces' sysctls before vipd set them: (interface, key, value).
    restore: Vec<(String, &'static str, i64)>,
    /// `InstanceId` → index in `links` of the socket its adverts leave from.
    tx_of: Vec<Option<usize>>,
    /// Set once the links were deleted or deliberately left (`-V`).
    done: bool,
}

/// (macvlan, base, MAC, xmit_base) of every `use_vmac` instance of `cfg`.
fn wanted(cfg: &Config) -> Vec<(String, String, [u8; 6], bool)> {
    cfg.instances
        .iter()
        .filter_map(|i| i.vmac.as_ref().map(|v| (v.name.clone(), i.interface.clone(), i.virtual_mac(), v.xmit_base)))
        .collect()
}

/// One shape for every set-up error: few format sites, a smaller binary.
#[cold]
#[inline(never)]
fn fail(what: &str, name: &str, e: impl core::fmt::Display) -> String {
    format!("use_vmac: {what} `{name}`: {e}")
}

impl Vmacs {
    /// Creates (or reuses) the macvlans `cfg` asks for, sets their sysctls
    /// and brings them up. On failure whatever was set up is undone.
    pub(super) fn setup(cfg: &Config, netlink: &mut Netlink) -> Result<Vmacs, String> {
        let mut v = Vmacs::default();
        let want = wanted(cfg);
        if want.is_empty() {
            v.done = true;
            return Ok(v);
        }
        match v.create(&want, netlink) {
            Ok(()) => Ok(v),
            Err(e) => {
                v.remove(netlink);
                Err(e)
            }
        }
    }

    fn create(&mut self, want: &[(String, String, [u8; 6], bool)], netlink: &mut Netlink) -> Result<(), String> {
        let (links, _) = netlink.dump().map_err(|e| fail("netlink dump", "", e))?;
        for (name, base, mac, _) in want {
            let Some(b) = links.iter().find(|l| l.name.as_str() == base.as_str()) else {
                return Err(fail("no interface", base, "it does not exist"));
            };
            match links.iter().find(|l| l.name.as_str() == name.as_str()) {
                Some(l) if l.mac == Some(*mac) => {}
                Some(_) => {
                    let why = "it exists without the virtual MAC; delete it or pick another name (use_vmac NAME)";
                    return Err(fail("cannot use", name, why));
                }
                None => netlink.add_macvlan(name, b.index, *mac).map_err(|e| fail("cannot create macvlan", name, e))?,
            }
        }
        let (links, _) = netlink.dump().map_err(|e| fail("netlink dump", "", e))?;
        for (name, base, mac, xmit_base) in want {
            let Some(l) = links.iter().find(|l| l.name.as_str() == name.as_str()) else {
                return Err(fail("lost", name, "it vanished after it was created"));
            };
            self.links.push(Link {
                name: name.clone(),
                base: base.clone(),
                mac: *mac,
                xmit_base: *xmit_base,
                index: l.index,
                tx: None,
            });
            // No IPv6 link-local address on the macvlan (see the module
            // doc): none at all for IPv4, no generated one for IPv6. A
            // kernel without IPv6 has no such file, which is as good.
            let v6 = mac[4] == 2;
            let _ = sysctl::write(true, name, if v6 { "addr_gen_mode" } else { "disable_ipv6" }, 1);
            for (key, value) in [("arp_ignore", 1), ("accept_local", 1), ("rp_filter", 0)] {
                sysctl::write(false, name, key, value).map_err(|e| fail(key, name, e))?;
            }
            for (key, value) in [("arp_ignore", 1), ("arp_filter", 1), ("arp_announce", 2)] {
                if self.restore.iter().any(|(i, k, _)| i == base && *k == key) {
                    continue;
                }
                let old = sysctl::read(false, base, key).map_err(|e| fail(key, base, e))?;
                if old != value {
                    sysctl::write(false, base, key, value).map_err(|e| fail(key, base, e))?;
                    self.restore.push((base.clone(), key, old));
                }
            }
            netlink.set_link_up(l.index).map_err(|e| fail("cannot set up", name, e))?;
            // IPv6 adverts always leave from the base: their source is its
            // link-local address, which the macvlan does not have.
            if !xmit_base && !v6 {
                let tx = VrrpSocket::open(name, l.index, Family::V4, &[]).map_err(|e| fail("VRRP socket", name, e))?;
                if let Some(last) = self.links.last_mut() {
                    last.tx = Some(tx);
                }
            }
        }
        Ok(())
    }

    /// Whether `cfg` asks for exactly the running macvlans (a reload may
    /// not change them: restart vipd instead).
    pub(super) fn matches(&self, cfg: &Config) -> bool {
        let want = wanted(cfg);
        want.len() == self.links.len()
            && want.iter().all(|(n, b, m, x)| {
                self.links.iter().any(|l| &l.name == n && &l.base == b && l.mac == *m && l.xmit_base == *x)
            })
    }

    /// Maps each instance of `engine` to the socket its adverts leave from.
    pub(super) fn index(&mut self, engine: &Engine) {
        self.tx_of = engine
            .instances()
            .iter()
            .map(|i| {
                let v = i.cfg.vmac.as_ref()?;
                self.links.iter().position(|l| l.name == v.name && l.tx.is_some())
            })
            .collect();
    }

    /// The socket `inst`'s adverts leave from when it is not the base
    /// interface's.
    pub(super) fn tx(&self, inst: InstanceId) -> Option<&VrrpSocket> {
        let k = (*self.tx_of.get(usize::from(inst.0))?)?;
        self.links.get(k)?.tx.as_ref()
    }

    /// Deletes the macvlans (their addresses go with them) and restores
    /// the base interfaces' sysctls. Failures are returned as log lines.
    pub(super) fn remove(&mut self, netlink: &mut Netlink) -> Vec<String> {
        let mut errors = Vec::new();
        self.done = true;
        self.tx_of.clear();
        for l in self.links.drain(..) {
            drop(l.tx);
            if let Err(e) = netlink.del_link(l.index) {
                errors.push(fail("cannot delete", &l.name, e));
            }
        }
        for (base, key, value) in self.restore.drain(..) {
            if let Err(e) = sysctl::write(false, &base, key, value) {
                errors.push(fail(key, &base, e));
            }
        }
        errors
    }

    /// `-V`: the macvlans stay with the addresses on them.
    pub(super) fn keep(&mut self) {
        self.done = true;
    }
}

impl Drop for Vmacs {
    /// A start that failed after the macvlans were made, or an exit that
    /// did not go through [`Vmacs::remove`]: nothing is left behind.
    fn drop(&mut self) {
        if !self.done && !self.links.is_empty() {
            if let Ok(mut nl) = Netlink::open() {
                let _ = self.remove(&mut nl);
            }
        }
    }
}
