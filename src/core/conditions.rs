//! Conditions an operator alerts on: split brain, peer mismatch, VRID
//! collision, silent unicast peer.

use core::net::IpAddr;

use super::{Effects, Engine, IfaceId};
use crate::time::Instant;

impl Engine {
    /// An ARP or NA sender claimed `addr` on `iface` with another
    /// link-layer address.
    pub(super) fn address_claimed(
        &mut self,
        now: Instant,
        iface: IfaceId,
        addr: IpAddr,
        hw: [u8; 6],
        fx: &mut Effects,
    ) {
        let _ = (now, iface, addr, hw, fx);
    }
}
