//! The requests that change the kernel's tables: addresses, routes and
//! policy rules, and the `use_vmac` links. Each waits for its answer
//! (`await_ack`), bounded by the reply timeout. Addresses go by the batch
//! ([`Netlink::queue_addr`]): up to [`ADDR_BATCH`] requests in one
//! datagram, their answers awaited together; a single one is a batch of
//! one.

use super::*;

impl Netlink {
    /// Adds one address as keepalived does (keepalived-reference §2.10).
    /// An address that already exists counts as added (EEXIST), whatever
    /// its label or flags.
    pub fn add_addr(&mut self, ifindex: u32, vip: &VipConfig) -> io::Result<()> {
        self.one_addr(true, ifindex, vip)
    }

    /// Deletes one address. Already gone counts as deleted: EADDRNOTAVAIL
    /// (no such address), ENODEV (no such interface, or no IPv4 on it) and
    /// ENXIO (no IPv6 on the interface).
    pub fn del_addr(&mut self, ifindex: u32, vip: &VipConfig) -> io::Result<()> {
        self.one_addr(false, ifindex, vip)
    }

    /// One address request as a batch of one (nothing else is queued
    /// between a `queue_addr` and its `flush_addrs`).
    fn one_addr(&mut self, add: bool, ifindex: u32, vip: &VipConfig) -> io::Result<()> {
        let mut result = Ok(());
        let mut failed = |_: u32, _: bool, e: io::Error| result = Err(e);
        self.queue_addr(add, ifindex, vip, 0, &mut failed);
        self.flush_addrs(&mut failed);
        result
    }

    /// Adds (`add`) or deletes one route. Adding one that exists counts as
    /// added (EEXIST); deleting one that is gone counts as deleted (ESRCH),
    /// as keepalived treats them.
    pub fn route(&mut self, add: bool, r: &crate::wire::netlink::RouteSpec) -> io::Result<()> {
        match self.route_request(add, r) {
            Err(e) if add && is_errno(&e, Errno::EXIST) => Ok(()),
            Err(e) if !add && is_errno(&e, Errno::SRCH) => Ok(()),
            other => other,
        }
    }

    /// Deletes one route; whether one matched (`vipd cleanup` reports
    /// only what it removed).
    pub fn del_route_found(&mut self, r: &crate::wire::netlink::RouteSpec) -> io::Result<bool> {
        match self.route_request(false, r) {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, Errno::SRCH) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn route_request(&mut self, add: bool, r: &crate::wire::netlink::RouteSpec) -> io::Result<()> {
        let seq = self.next_seq();
        let mut req = [0u8; REQUEST_LEN];
        let built = crate::wire::netlink::route_request(&mut req, add, seq, r).map_err(|_| invalid_input())?;
        self.send(built)?;
        self.await_ack(seq)
    }

    /// Adds (`add`) or deletes one policy rule; EEXIST on adding and
    /// ENOENT on deleting count as done.
    pub fn rule(&mut self, add: bool, r: &crate::wire::netlink::RuleSpec<'_>) -> io::Result<()> {
        match self.rule_request(add, r) {
            Err(e) if add && is_errno(&e, Errno::EXIST) => Ok(()),
            Err(e) if !add && is_errno(&e, Errno::NOENT) => Ok(()),
            other => other,
        }
    }

    /// Deletes one rule; whether one matched.
    pub fn del_rule_found(&mut self, r: &crate::wire::netlink::RuleSpec<'_>) -> io::Result<bool> {
        match self.rule_request(false, r) {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, Errno::NOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn rule_request(&mut self, add: bool, r: &crate::wire::netlink::RuleSpec<'_>) -> io::Result<()> {
        let seq = self.next_seq();
        let mut req = [0u8; REQUEST_LEN];
        let built = crate::wire::netlink::rule_request(&mut req, add, seq, r).map_err(|_| invalid_input())?;
        self.send(built)?;
        self.await_ack(seq)
    }

    /// Creates macvlan `name` (bridge mode, down) on `base` with `mac`
    /// (`use_vmac`). EEXIST if the name is taken.
    pub fn add_macvlan(&mut self, name: &str, base: u32, mac: [u8; 6]) -> io::Result<()> {
        let seq = self.next_seq();
        let mut req = [0u8; REQUEST_LEN];
        let msg = macvlan_request(&mut req, seq, name, base, mac).map_err(|_| invalid_input())?;
        self.send(msg)?;
        self.await_ack(seq)
    }

    /// Sets link `index` up.
    pub fn set_link_up(&mut self, index: u32) -> io::Result<()> {
        let seq = self.next_seq();
        let mut req = [0u8; REQUEST_LEN];
        let msg = link_up_request(&mut req, seq, index).map_err(|_| invalid_input())?;
        self.send(msg)?;
        self.await_ack(seq)
    }

    /// Deletes link `index`; already gone (ENODEV) counts as deleted.
    pub fn del_link(&mut self, index: u32) -> io::Result<()> {
        let seq = self.next_seq();
        let mut req = [0u8; REQUEST_LEN];
        let msg = dellink_request(&mut req, seq, index).map_err(|_| invalid_input())?;
        self.send(msg)?;
        match self.await_ack(seq) {
            Err(e) if is_errno(&e, Errno::NODEV) => Ok(()),
            other => other,
        }
    }

    /// Queues adding (`add`) or deleting one address, under the caller's
    /// `tag`, for [`Netlink::flush_addrs`]; a full batch is flushed first.
    /// What `add_addr` / `del_addr` would return as an error goes to
    /// `failed` with the request's tag and direction.
    pub fn queue_addr(&mut self, add: bool, ifindex: u32, vip: &VipConfig, tag: u32, failed: Failed<'_>) {
        if self.batch.n == ADDR_BATCH {
            self.flush_addrs(failed);
        }
        // Sequence numbers of one batch are consecutive, so an answer's
        // index is its seq minus the first: one is taken only for a
        // request that was built.
        let seq = self.seq.wrapping_add(1);
        let kind = if add { RTM_NEWADDR } else { RTM_DELADDR };
        let b = &mut self.batch;
        let Some(room) = b.buf.get_mut(b.len..) else { return failed(tag, add, invalid_input()) };
        match build_addr_request(room, kind, seq, ifindex, vip) {
            Ok(len) => {
                self.seq = seq;
                if b.n == 0 {
                    b.first = seq;
                }
                b.tags[b.n] = (tag, add);
                b.n += 1;
                b.len += len;
            }
            Err(e) => failed(tag, add, e),
        }
    }

    /// Sends the queued address requests in one datagram and waits for
    /// every answer (the kernel handles them in order and answers each,
    /// errors too), bounded by the reply timeout; the failures go to
    /// `failed`, unanswered ones as timed out.
    pub fn flush_addrs(&mut self, failed: Failed<'_>) {
        let (n, first) = (self.batch.n, self.batch.first);
        if n == 0 {
            return;
        }
        let tags = self.batch.tags;
        let sent = self.send(self.batch.buf.get(..self.batch.len).unwrap_or(&[]));
        self.batch.n = 0;
        self.batch.len = 0;
        if let Err(e) = sent {
            for &(tag, add) in tags.iter().take(n) {
                failed(tag, add, same_error(&e));
            }
            return;
        }
        let mut answered = [false; ADDR_BATCH];
        let mut left = n;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut why = None;
        while left > 0 {
            let len = match self.recv_reply() {
                Ok(len) => len,
                Err(e) => {
                    why = Some(e);
                    break;
                }
            };
            for msg in messages(self.cmd_buf.get(..len).unwrap_or(&[])).flatten() {
                let k = msg.seq().wrapping_sub(first) as usize;
                if k >= n || msg.kind() != NLMSG_ERROR || answered[k] {
                    continue;
                }
                answered[k] = true;
                left -= 1;
                let (tag, add) = tags[k];
                match Ack::parse(&msg) {
                    Ok(ack) if ack.is_ok() => {}
                    Ok(ack) => {
                        if let Err(e) = addr_outcome(add, Err(errno_error(ack.errno))) {
                            failed(tag, add, e);
                        }
                    }
                    Err(_) => failed(tag, add, invalid_data()),
                }
            }
            if left > 0 && Instant::now() > deadline {
                break;
            }
        }
        for (k, &(tag, add)) in tags.iter().enumerate().take(n) {
            if !answered[k] {
                failed(tag, add, why.as_ref().map_or_else(timed_out, same_error));
            }
        }
    }
}

/// Address requests one datagram carries at most: their answers fit the
/// socket's receive buffer many times over, and 1,000 masters resumed at
/// once (or a new backup clearing 40,000 excluded addresses) cost two
/// system calls a request one by one.
pub const ADDR_BATCH: usize = 32;

/// Where a batch's failures go: the request's tag, whether it added, and
/// the error.
pub type Failed<'a> = &'a mut dyn FnMut(u32, bool, io::Error);

/// The requests queued by [`Netlink::queue_addr`], back to back in `buf`.
pub(super) struct AddrBatch {
    buf: Box<[u8]>,
    len: usize,
    n: usize,
    /// The first request's sequence number; the rest follow it.
    first: u32,
    tags: [(u32, bool); ADDR_BATCH],
}

impl AddrBatch {
    pub(super) fn new() -> AddrBatch {
        AddrBatch {
            buf: vec![0u8; ADDR_BATCH * REQUEST_LEN].into_boxed_slice(),
            len: 0,
            n: 0,
            first: 0,
            tags: [(0, false); ADDR_BATCH],
        }
    }
}

/// An address request's answer as keepalived reads it: adding one that
/// exists is done (EEXIST, whatever its label or flags); deleting one
/// that is gone is done: EADDRNOTAVAIL (no such address), ENODEV (no such
/// interface, or no IPv4 on it) and ENXIO (no IPv6 on the interface).
fn addr_outcome(add: bool, r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if add && is_errno(&e, Errno::EXIST) => Ok(()),
        Err(e)
            if !add
                && (is_errno(&e, Errno::ADDRNOTAVAIL) || is_errno(&e, Errno::NODEV) || is_errno(&e, Errno::NXIO)) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The same error again (io::Error is not Clone), without allocating.
fn same_error(e: &io::Error) -> io::Error {
    e.raw_os_error().map_or_else(|| io::Error::from(e.kind()), io::Error::from_raw_os_error)
}

/// Writes RTM_NEWADDR / RTM_DELADDR for `vip` into `buf`; its length.
///
/// Add: REQUEST|ACK|CREATE; IFA_LOCAL is the address and IFA_ADDRESS the
/// peer (the address itself without one), then IFA_BROADCAST and
/// IFA_LABEL (IPv4), IFA_FLAGS from the VIP's flags, and for IPv6 with a
/// preferred lifetime IFA_CACHEINFO (valid forever; the kernel marks a
/// preferred lifetime of 0 deprecated). Delete: the same header, IFA_LOCAL
/// and IFA_ADDRESS only, so the address goes whatever label it was given.
///
/// `InvalidInput` for a prefix longer than the address, a peer of the
/// other family, or a label over 15 bytes or containing a NUL.
pub(super) fn build_addr_request(
    buf: &mut [u8],
    kind: u16,
    seq: u32,
    ifindex: u32,
    vip: &VipConfig,
) -> io::Result<usize> {
    let v6 = vip.addr.is_ipv6();
    let (family, max_prefix) = if v6 { (AF_INET6, 128) } else { (AF_INET, 32) };
    if vip.prefix > max_prefix || vip.peer.is_some_and(|p| p.is_ipv6() != v6) {
        return Err(invalid_input());
    }
    let local = ip_bytes(vip.addr);
    let address = ip_bytes(vip.peer.unwrap_or(vip.addr));
    let add = kind == RTM_NEWADDR;
    let mut flags = 0u32;
    if add {
        for (on, flag) in [
            (v6 && vip.nodad, IFA_F_NODAD),
            (v6 && vip.home, IFA_F_HOMEADDRESS),
            (v6 && vip.mngtmpaddr, IFA_F_MANAGETEMPADDR),
            (vip.noprefixroute, IFA_F_NOPREFIXROUTE),
            (vip.autojoin, IFA_F_MCAUTOJOIN),
        ] {
            if on {
                flags |= flag;
            }
        }
    }
    let nl_flags = if add { NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE } else { NLM_F_REQUEST | NLM_F_ACK };
    // Only BufferTooSmall is possible, and REQUEST_LEN rules it out.
    let nl = |_| invalid_input();
    let mut b = NlBuilder::new(buf);
    b.header(kind, nl_flags, seq).map_err(nl)?;
    // The header's flag byte holds the low 8 bits; IFA_FLAGS carries all.
    b.push(&IfAddrMsg::new(family, vip.prefix, (flags & 0xff) as u8, vip.scope, ifindex)).map_err(nl)?;
    b.attr(IFA_LOCAL, local.as_slice()).map_err(nl)?;
    b.attr(IFA_ADDRESS, address.as_slice()).map_err(nl)?;
    if add && !v6 {
        if let Some(bcast) = vip.broadcast {
            b.attr(IFA_BROADCAST, &bcast.octets()).map_err(nl)?;
        }
        if let Some(label) = &vip.label {
            let mut name = [0u8; IFNAMSIZ];
            if label.len() >= IFNAMSIZ || label.bytes().any(|c| c == 0) {
                return Err(invalid_input());
            }
            for (d, s) in name.iter_mut().zip(label.bytes()) {
                *d = s;
            }
            // With its NUL, as the kernel copies it.
            b.attr(IFA_LABEL, name.get(..=label.len()).ok_or_else(invalid_input)?).map_err(nl)?;
        }
    }
    if flags != 0 {
        b.attr(IFA_FLAGS, &flags.to_ne_bytes()).map_err(nl)?;
    }
    if let (true, true, Some(preferred)) = (add, v6, vip.preferred_lft) {
        let ci = IfaCacheInfo {
            preferred: preferred.to_ne_bytes(),
            valid: LIFETIME_FOREVER.to_ne_bytes(),
            created: [0; 4],
            updated: [0; 4],
        };
        b.attr(IFA_CACHEINFO, bytemuck::bytes_of(&ci)).map_err(nl)?;
    }
    Ok(b.finish().map_err(nl)?.len())
}

/// An address's bytes without allocating: 4 or 16 of them.
struct IpBytes {
    bytes: [u8; 16],
    len: usize,
}

impl IpBytes {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

fn ip_bytes(addr: IpAddr) -> IpBytes {
    let mut bytes = [0u8; 16];
    match addr {
        IpAddr::V4(a) => {
            bytes[..4].copy_from_slice(&a.octets());
            IpBytes { bytes, len: 4 }
        }
        IpAddr::V6(a) => IpBytes { bytes: a.octets(), len: 16 },
    }
}
