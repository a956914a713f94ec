//! Building an [`Engine`] from a [`Config`]: interfaces interned by name
//! (each VIP's interface resolved once, here), instances, sync groups and
//! trackers laid out by index, the demultiplexing table sorted, the
//! announce queue, and every table sized once. This is the only place the
//! engine allocates; it checks what the engine relies on (the config layer
//! has validated the rest) and must not start anything or emit effects.

use super::announce::AnnounceQueue;
use super::deadlines::Deadlines;
use super::iface::VipAt;
use super::instance::advert_coalesce;
use super::sync_group::Group;
use super::track::Tracker;
use super::{Engine, GroupId, Iface, IfaceId, Instance, InstanceId, Route};
use crate::config::Config;
use crate::wire::WireError;

/// Why the engine could not be built from a configuration. The config layer
/// validates everything first; these are the checks the engine relies on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    TooMany(&'static str),
    /// A value the engine cannot run with (advert interval 0, AH auth…).
    Invalid {
        instance: String,
        what: &'static str,
    },
    DuplicateVrid {
        first: String,
        second: String,
    },
    BadReference {
        instance: String,
        what: &'static str,
    },
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BuildError::TooMany(what) => write!(f, "too many {what}"),
            BuildError::DuplicateVrid { first, second } => {
                write!(f, "instances {first} and {second} use the same VRID on the same interface and family")
            }
            BuildError::BadReference { instance, what } => write!(f, "{instance}: unknown {what}"),
            BuildError::Invalid { instance, what } => write!(f, "{instance}: {what}"),
        }
    }
}

impl Engine {
    /// Builds the engine. All allocation happens here.
    pub fn new(cfg: &Config) -> Result<Engine, BuildError> {
        if cfg.instances.len() > usize::from(u16::MAX) || cfg.trackers.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooMany("instances or trackers"));
        }
        let mut ifaces: Vec<Iface> = Vec::new();
        let mut intern = |name: &str| -> Result<IfaceId, BuildError> {
            if let Some(i) = ifaces.iter().position(|f| f.name == name) {
                return Ok(IfaceId(i as u16));
            }
            if ifaces.len() >= usize::from(u16::MAX) {
                return Err(BuildError::TooMany("interfaces"));
            }
            ifaces.push(Iface { name: name.to_owned(), up: false, addrs: heapless::Vec::new(), vips: Vec::new() });
            Ok(IfaceId((ifaces.len() - 1) as u16))
        };

        let mut instances = Vec::with_capacity(cfg.instances.len());
        for (n, ic) in cfg.instances.iter().enumerate() {
            let invalid = |what| Err(BuildError::Invalid { instance: ic.name.clone(), what });
            if ic.advert_int.is_zero() {
                return invalid("advert interval 0");
            }
            if ic.auth == crate::wire::vrrp::Auth::Ah {
                // Every peer's advert would be rejected: a second master.
                return invalid("AH authentication is not implemented");
            }
            let iface = intern(&ic.interface)?;
            let mut track_ifaces = Vec::with_capacity(ic.track_interfaces.len() + ic.vips.len());
            for t in &ic.track_interfaces {
                track_ifaces.push((intern(&t.interface)?, t.weight, t.reverse));
            }
            // A VIP on another interface makes that interface a tracked one
            // (keepalived-reference §2.6), unless the VIP is `no_track`.
            for v in ic.vips.iter().chain(&ic.excluded_vips) {
                if let (Some(dev), false) = (&v.dev, v.no_track) {
                    let id = intern(dev)?;
                    if id != iface && !track_ifaces.iter().any(|t| t.0 == id) {
                        track_ifaces.push((id, 0, false));
                    }
                }
            }
            // With `use_vmac` the addresses without `dev` live on the
            // macvlan; the instance's own interface still carries adverts.
            let home = match &ic.vmac {
                Some(v) => intern(&v.name)?,
                None => iface,
            };
            let mut vip_ifaces = Vec::with_capacity(ic.vips.len() + ic.excluded_vips.len());
            for v in ic.vips.iter().chain(&ic.excluded_vips) {
                vip_ifaces.push(match &v.dev {
                    Some(dev) => intern(dev)?,
                    None => home,
                });
            }
            for t in &ic.track {
                if usize::from(t.tracker.0) >= cfg.trackers.len() {
                    return Err(BuildError::BadReference { instance: ic.name.clone(), what: "tracker" });
                }
            }
            instances.push(Instance::new(InstanceId(n as u16), ic.clone(), iface, track_ifaces, vip_ifaces));
        }

        // Each interface's table of the addresses held on it (iface.rs).
        for inst in &instances {
            for (k, (v, f)) in inst.addresses().enumerate() {
                let at = VipAt { addr: v.addr, inst: inst.id, k: k as u32 };
                if let Some(f) = ifaces.get_mut(usize::from(f.0)) {
                    f.vips.push(at);
                }
            }
        }
        for f in &mut ifaces {
            crate::sort::heap_sort(&mut f.vips);
            f.vips.shrink_to_fit();
        }

        if cfg.sync_groups.len() > usize::from(u16::MAX) {
            return Err(BuildError::TooMany("sync groups"));
        }
        let mut groups = Vec::with_capacity(cfg.sync_groups.len());
        for (g, gc) in cfg.sync_groups.iter().enumerate() {
            let mut members = Vec::with_capacity(gc.members.len());
            for &m in &gc.members {
                if instances.get(m).is_some_and(|i: &Instance| i.group.is_some()) {
                    return Err(BuildError::Invalid {
                        instance: gc.name.clone(),
                        what: "an instance is in two sync groups",
                    });
                }
                let Some(inst) = instances.get_mut(m) else {
                    return Err(BuildError::BadReference { instance: gc.name.clone(), what: "group member" });
                };
                inst.group = Some(GroupId(g as u16));
                members.push(InstanceId(m as u16));
            }
            groups.push(Group { members, reported: None });
        }

        let mut demux: Vec<Route> = instances
            .iter()
            .map(|i| Route { iface: i.iface, family: i.cfg.family, vrid: i.cfg.vrid, inst: i.id })
            .collect();
        crate::sort::heap_sort(&mut demux);
        // The config already refused these (the same rule); a caller that
        // built a Config by hand gets an error instead of a confused demux.
        for (n, ra) in demux.iter().enumerate() {
            for rb in demux[n + 1..].iter().take_while(|rb| rb.key() == ra.key()) {
                let (a, b) = (&instances[usize::from(ra.inst.0)], &instances[usize::from(rb.inst.0)]);
                if !a.cfg.separable_from(&b.cfg) {
                    return Err(BuildError::DuplicateVrid { first: a.cfg.name.clone(), second: b.cfg.name.clone() });
                }
            }
        }

        // A FIFO hears every instance's notifies; scripts only their own.
        let fifo = cfg.globals.notify_fifo.is_some() || cfg.globals.vrrp_notify_fifo.is_some();
        for i in &mut instances {
            i.notify_rx_lower = fifo || i.cfg.notify.generic.is_some() || i.cfg.notify.master_rx_lower_pri.is_some();
        }

        // Room for every address's rounds at once (entering MASTER, or a
        // reload resuming every master), so none is sent within the event.
        let burst: usize = cfg
            .instances
            .iter()
            .map(|i| {
                let g = &i.garp;
                let rounds = g.master_repeat.max(g.lower_prio_repeat).max(g.master_refresh_repeat);
                (i.vips.len() + i.excluded_vips.len()).saturating_mul(usize::from(rounds))
            })
            .fold(0, usize::saturating_add);
        let announces = AnnounceQueue::new(ifaces.len(), cfg.globals.garp_interval, cfg.globals.gna_interval, burst);
        let trackers = cfg.trackers.iter().map(Tracker::new).collect();
        // Instances by virtual router, so a reload pairs 1,000 instances
        // by binary search instead of a million comparisons.
        let mut by_router: Vec<u16> = (0..instances.len() as u16).collect();
        crate::sort::heap_sort_by(&mut by_router, |&a, &b| {
            instances[usize::from(a)].router_key() < instances[usize::from(b)].router_key()
        });
        let n = instances.len();
        let coalesce = instances.iter().map(|i: &Instance| advert_coalesce(i.cfg.advert_int)).max().unwrap_or_default();
        let mut engine = Engine {
            by_router,
            instances,
            ifaces,
            trackers,
            groups,
            startup_delay: cfg.startup_delay,
            started: false,
            demux,
            tracker_names: cfg.trackers.iter().map(|t| t.name.clone()).collect(),
            global_errors: [0; WireError::ALL.len()],
            announces,
            deadlines: Deadlines::with_capacity(n),
            stale: Vec::with_capacity(n),
            stale_all: true,
            due: Vec::with_capacity(n),
            coalesce,
        };
        for i in 0..engine.instances.len() {
            let (_, _, prio) = engine.evaluate(i);
            engine.instances[i].effective_priority = prio;
        }
        Ok(engine)
    }
}
