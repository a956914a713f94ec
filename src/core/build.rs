//! Building an [`Engine`] from a [`Config`]: interfaces interned by name,
//! instances, sync groups and trackers laid out by index, the demultiplexing
//! table sorted, and every table sized once. This is the only place the
//! engine allocates; it checks what the engine relies on (the config layer
//! has validated the rest) and must not start anything or emit effects.

use super::sync_group::Group;
use super::track::Tracker;
use super::{Engine, GroupId, Iface, IfaceId, Instance, InstanceId};
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
            ifaces.push(Iface { name: name.to_owned(), up: false, addrs: heapless::Vec::new() });
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
            let mut vip_ifaces = Vec::with_capacity(ic.vips.len() + ic.excluded_vips.len());
            for v in ic.vips.iter().chain(&ic.excluded_vips) {
                vip_ifaces.push(match &v.dev {
                    Some(dev) => intern(dev)?,
                    None => iface,
                });
            }
            for t in &ic.track {
                if usize::from(t.tracker.0) >= cfg.trackers.len() {
                    return Err(BuildError::BadReference { instance: ic.name.clone(), what: "tracker" });
                }
            }
            instances.push(Instance::new(InstanceId(n as u16), ic.clone(), iface, track_ifaces, vip_ifaces));
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

        let mut demux: Vec<_> = instances.iter().map(|i| (i.iface, i.cfg.family, i.cfg.vrid, i.id)).collect();
        demux.sort();
        for w in demux.windows(2) {
            let (a, b) = (&instances[usize::from(w[0].3.0)], &instances[usize::from(w[1].3.0)]);
            if w[0].0 == w[1].0 && w[0].1 == w[1].1 && w[0].2 == w[1].2 && !separable(a, b) {
                return Err(BuildError::DuplicateVrid { first: a.cfg.name.clone(), second: b.cfg.name.clone() });
            }
        }

        let trackers = cfg.trackers.iter().map(Tracker::new).collect();
        let mut engine = Engine {
            instances,
            ifaces,
            trackers,
            groups,
            startup_delay: cfg.startup_delay,
            started: false,
            demux,
            tracker_names: cfg.trackers.iter().map(|t| t.name.clone()).collect(),
            global_errors: [0; WireError::ALL.len()],
        };
        for i in 0..engine.instances.len() {
            let (_, _, prio) = engine.evaluate(i);
            engine.instances[i].effective_priority = prio;
        }
        Ok(engine)
    }
}

/// Two instances may share a VRID on one interface and family when
/// adverts can tell them apart (keepalived-reference §1.3): one unicast and
/// one multicast, different multicast groups, or unicast peer sets that do
/// not overlap.
fn separable(a: &Instance, b: &Instance) -> bool {
    match (a.cfg.is_unicast(), b.cfg.is_unicast()) {
        (true, true) => !a.cfg.unicast_peers.iter().any(|p| b.cfg.unicast_peers.iter().any(|q| q.addr == p.addr)),
        (false, false) => a.group_addr() != b.group_addr(),
        _ => true,
    }
}
