//! Per-instance counters, named after RFC 6527 (VRRPv3-MIB) and RFC 8347
//! (ietf-vrrp).

use crate::wire::WireError;
use crate::wire::vrrp::ChecksumForm;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `vrrpv3StatisticsMasterTransitions` / `master-transitions`.
    pub master_transitions: u64,
    /// `vrrpv3StatisticsRcvdAdvertisements` / `advertisement-rcvd`
    /// (adverts that passed every check).
    pub adverts_rcvd: u64,
    /// `advertisement-sent`.
    pub adverts_sent: u64,
    /// `vrrpv3StatisticsRcvdPriZeroPackets` / `priority-zero-pkts-rcvd`.
    pub pri_zero_rcvd: u64,
    /// `vrrpv3StatisticsSentPriZeroPackets` / `priority-zero-pkts-sent`.
    pub pri_zero_sent: u64,
    /// Times the driver reported that adverts could not be sent.
    pub send_failures: u64,
    /// Times we left MASTER (keepalived's `release_master`).
    pub release_master: u64,
    /// v3/IPv4 adverts accepted per checksum form (RFC 9568 vs pseudo-header).
    pub rcvd_pseudo_header_csum: u64,
    pub rcvd_rfc9568_csum: u64,
    /// Rejected adverts, one counter per [`WireError`] (indexed by
    /// `WireError::index`).
    pub errors: [u64; WireError::ALL.len()],
}

impl Stats {
    pub fn error(&self, e: WireError) -> u64 {
        self.errors[e.index()]
    }

    pub(crate) fn count_error(&mut self, e: WireError) {
        let c = &mut self.errors[e.index()];
        *c = c.saturating_add(1);
    }

    pub(crate) fn count_checksum_form(&mut self, form: ChecksumForm) {
        match form {
            ChecksumForm::PseudoHeader => self.rcvd_pseudo_header_csum += 1,
            ChecksumForm::NoPseudoHeader => self.rcvd_rfc9568_csum += 1,
            ChecksumForm::V2 => {}
        }
    }
}
