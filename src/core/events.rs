//! What drivers report to the engine: inputs from the outside world and
//! the outcome of effects they carried out. Values only; no behaviour.

use core::net::IpAddr;

use super::{IfaceId, InstanceId};
use crate::config::{Family, TrackerId};
use crate::wire::WireError;
use crate::wire::vrrp::{Advert, ChecksumForm};

/// A received advert that passed the wire checks (length, version nibble,
/// type, checksum). The engine does the instance checks.
#[derive(Clone, Copy, Debug)]
pub struct RxAdvert<'a> {
    pub iface: IfaceId,
    pub src: IpAddr,
    /// IP destination: the multicast group or our unicast address.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub advert: Advert<'a>,
    pub checksum: ChecksumForm,
}

/// One input to [`super::Engine::handle`].
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// Start every instance (after the drivers reported links and addresses).
    Start,
    /// The deadline from `next_deadline()` has come: run every due timer.
    Timer,
    /// A received advert.
    Advert(RxAdvert<'a>),
    /// A packet the wire layer rejected; `vrid` when it could be read, so the
    /// right instance's counter moves.
    RxError { iface: IfaceId, family: Family, vrid: Option<u8>, error: WireError },
    /// Interface operational state (IFF_UP and IFF_RUNNING both set = up).
    Link { iface: IfaceId, up: bool },
    /// An address appeared on or left an interface.
    Address { iface: IfaceId, addr: IpAddr, present: bool },
    /// A check script finished: exit 0 = success; failure, signal or timeout
    /// = not.
    ScriptResult { tracker: TrackerId, success: bool },
    /// A tracked file now holds this value.
    FileValue { tracker: TrackerId, value: i64 },
    /// What became of sending this instance's adverts (`Effect::SendAdvert`
    /// with `priority`): `count` sends in a row, one per destination, that
    /// all went out (`ok`) or all failed. Reported after the effects are
    /// carried out, never from within. The engine keeps the run of failures:
    /// a master that cannot be heard (a firewall, no route, no buffer) must
    /// not stay master, so a few failures in a row mean Fault for one
    /// Master_Down interval, then it tries again.
    Sent { inst: InstanceId, priority: u8, ok: bool, count: u16 },
    /// Another host claimed one of our addresses on `iface`: an ARP packet
    /// or a Neighbor Advertisement whose sender is `addr`, with a link-layer
    /// address `hw` that is not `iface`'s own. While we are master for
    /// `addr`, it is evidence of a second master that does not hear us (a
    /// VRRP-only partition: protocol 112 dropped, ARP still passing).
    AddressClaimed { iface: IfaceId, addr: IpAddr, hw: [u8; 6] },
    /// Stop: every master sends priority 0; VIPs are released unless
    /// `release_vips` is false (`-V`).
    Shutdown { release_vips: bool },
}
