//! The bytes `vipd upgrade` hands to the next binary in a memfd: a magic,
//! a format version, the body's length, then fixed little-endian records
//! (the engine's [`Snapshot`], the fd numbers kept across the `execve` and
//! what each is). Hand-rolled rather than serde, which would cost more of
//! the static binary than the whole format. Decoding never panics: a
//! truncated, corrupt or unknown-version input is an error, and the next
//! binary then starts as a reload starts new instances.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::Family;
use crate::core::{InstanceSnapshot, Reason, RouterKey, Snapshot, State, Stats, TrackStatus, TrackerSnapshot};
use crate::time::{Duration, Instant};

pub const MAGIC: [u8; 8] = *b"VIPDUPG\0";
/// Bumped whenever a record changes; a binary takes over only from the
/// versions it reads (checked by the `-t` run before the `execve`).
pub const VERSION: u16 = 1;
/// More than any configuration produces (1,000 instances take ~300 kB).
pub const MAX_LEN: usize = 64 << 20;

/// A VRRP receive socket kept across the `execve`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptSocket {
    pub fd: i32,
    pub ifindex: u32,
    pub family: Family,
    pub groups: Vec<IpAddr>,
}

/// An ARP or NA watcher kept across the `execve`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptClaims {
    pub fd: i32,
    pub ifindex: u32,
    pub v6: bool,
    pub vips: Vec<IpAddr>,
}

/// Everything the previous image hands over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Handover {
    /// CLOCK_MONOTONIC when the snapshot was taken, just before `execve`.
    pub taken: Instant,
    pub snapshot: Snapshot,
    pub vrrp: Vec<KeptSocket>,
    /// GARP/NA senders: the packet socket and the ICMPv6 one.
    pub announcer: Option<(i32, Option<i32>)>,
    /// ARP/NA watchers: fd, ifindex, IPv6, the addresses it filters on.
    pub claims: Vec<KeptClaims>,
    pub control: Option<i32>,
    pub metrics: Option<i32>,
    /// The `vipd upgrade` client, told the outcome once the new image runs.
    pub client: Option<i32>,
}

pub fn encode(h: &Handover) -> Vec<u8> {
    let mut w = Vec::with_capacity(256 + h.snapshot.instances.len() * 400);
    w.extend_from_slice(&MAGIC);
    w.extend_from_slice(&VERSION.to_le_bytes());
    w.extend_from_slice(&0u32.to_le_bytes());
    let body = w.len();
    let mut b = Writer(w);
    b.u64(h.taken.as_micros());
    b.u32(h.snapshot.instances.len() as u32);
    for s in &h.snapshot.instances {
        b.instance(s);
    }
    b.u32(h.snapshot.trackers.len() as u32);
    for t in &h.snapshot.trackers {
        b.str(&t.name);
        b.u8(match t.status {
            TrackStatus::Unknown => 0,
            TrackStatus::Up => 1,
            TrackStatus::Down => 2,
        });
    }
    b.u32(h.vrrp.len() as u32);
    for k in &h.vrrp {
        b.i32(k.fd);
        b.u32(k.ifindex);
        b.family(k.family);
        b.u32(k.groups.len() as u32);
        for g in &k.groups {
            b.ip(*g);
        }
    }
    let (packet, icmp6) = h.announcer.map_or((None, None), |(p, i)| (Some(p), i));
    for fd in [h.control, h.metrics, h.client, packet, icmp6] {
        b.i32(fd.unwrap_or(-1));
    }
    b.u32(h.claims.len() as u32);
    for c in &h.claims {
        b.i32(c.fd);
        b.u32(c.ifindex);
        b.u8(u8::from(c.v6));
        b.u32(c.vips.len() as u32);
        for v in &c.vips {
            b.ip(*v);
        }
    }
    let mut w = b.0;
    let len = (w.len() - body) as u32;
    w[body - 4..body].copy_from_slice(&len.to_le_bytes());
    w
}

pub fn decode(bytes: &[u8]) -> Result<Handover, &'static str> {
    let head = bytes.get(..14).ok_or("truncated header")?;
    if head[..8] != MAGIC {
        return Err("not a vipd upgrade snapshot");
    }
    if u16::from_le_bytes([head[8], head[9]]) != VERSION {
        return Err("unknown snapshot version");
    }
    let len = u32::from_le_bytes([head[10], head[11], head[12], head[13]]) as usize;
    let body = bytes.get(14..).filter(|b| b.len() == len).ok_or("length does not match")?;
    let mut r = Reader(body);
    let taken = Instant::from_micros(r.u64()?);
    let n = r.count()?;
    let mut instances = Vec::with_capacity(n);
    for _ in 0..n {
        instances.push(r.instance()?);
    }
    let n = r.count()?;
    let mut trackers = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str()?;
        let status = match r.u8()? {
            0 => TrackStatus::Unknown,
            1 => TrackStatus::Up,
            2 => TrackStatus::Down,
            _ => return Err("bad tracker status"),
        };
        trackers.push(TrackerSnapshot { name, status });
    }
    let n = r.count()?;
    let mut vrrp = Vec::with_capacity(n);
    for _ in 0..n {
        let (fd, ifindex, family) = (r.i32()?, r.u32()?, r.family()?);
        let g = r.count()?;
        let mut groups = Vec::with_capacity(g);
        for _ in 0..g {
            groups.push(r.ip()?);
        }
        vrrp.push(KeptSocket { fd, ifindex, family, groups });
    }
    let mut fd = || r.i32().map(|f| (f >= 0).then_some(f));
    let (control, metrics, client, packet, icmp6) = (fd()?, fd()?, fd()?, fd()?, fd()?);
    let announcer = packet.map(|p| (p, icmp6));
    let n = r.count()?;
    let mut claims = Vec::with_capacity(n);
    for _ in 0..n {
        let (fd, ifindex, v6) = (r.i32()?, r.u32()?, r.u8()? != 0);
        let g = r.count()?;
        let mut vips = Vec::with_capacity(g);
        for _ in 0..g {
            vips.push(r.ip()?);
        }
        claims.push(KeptClaims { fd, ifindex, v6, vips });
    }
    if !r.0.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Handover {
        taken,
        snapshot: Snapshot { instances, trackers },
        vrrp,
        announcer,
        claims,
        control,
        metrics,
        client,
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn family(&mut self, f: Family) {
        self.u8(match f {
            Family::V4 => 4,
            Family::V6 => 6,
        });
    }
    fn ip(&mut self, a: IpAddr) {
        match a {
            IpAddr::V4(a) => {
                self.u8(4);
                self.0.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                self.u8(6);
                self.0.extend_from_slice(&a.octets());
            }
        }
    }
    fn opt_ip(&mut self, a: Option<IpAddr>) {
        match a {
            Some(a) => self.ip(a),
            None => self.u8(0),
        }
    }
    fn opt_time(&mut self, t: Option<Instant>) {
        // 0 is never a deadline: CLOCK_MONOTONIC is past boot.
        self.u64(t.map_or(0, |t| t.as_micros().max(1)));
    }
    fn instance(&mut self, s: &InstanceSnapshot) {
        let k = &s.key;
        self.u8(k.vrid);
        self.family(k.family);
        self.str(&k.interface);
        self.u8(u8::from(k.unicast));
        self.opt_ip(k.src);
        self.ip(k.group);
        self.u8(match s.state {
            State::Init => 0,
            State::Backup => 1,
            State::Master => 2,
            State::Fault => 3,
        });
        let (tag, from, prio) = reason_parts(s.reason);
        self.u8(tag);
        self.opt_ip(from);
        self.u8(prio);
        self.u64(s.since.as_micros());
        self.u8(s.base_priority);
        self.opt_ip(s.master.map(|m| m.0));
        self.u8(s.master.map_or(0, |m| m.1));
        self.u64(s.master_adver_int.as_micros());
        self.opt_time(s.master_seen);
        self.opt_time(s.down_at);
        self.opt_time(s.advert_at);
        self.opt_time(s.garp_refresh_at);
        let st = &s.stats;
        for v in [
            st.master_transitions,
            st.adverts_rcvd,
            st.adverts_sent,
            st.pri_zero_rcvd,
            st.pri_zero_sent,
            st.send_failures,
            st.release_master,
            st.rcvd_pseudo_header_csum,
            st.rcvd_rfc9568_csum,
        ] {
            self.u64(v);
        }
        self.u32(st.errors.len() as u32);
        for v in st.errors {
            self.u64(v);
        }
        self.u32(s.vips_held);
    }
}

const REASONS: [Reason; 10] = [
    Reason::Startup,
    Reason::Owner,
    Reason::MasterDown,
    Reason::PriorityZero,
    Reason::Preempt,
    Reason::SyncGroup,
    Reason::TrackerFault,
    Reason::FaultCleared,
    Reason::VipDeleted,
    Reason::Shutdown,
];

fn reason_parts(r: Reason) -> (u8, Option<IpAddr>, u8) {
    match r {
        Reason::HigherPriority { from, priority } => (255, Some(from), priority),
        r => (REASONS.iter().position(|x| *x == r).unwrap_or(0) as u8, None, 0),
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or("truncated")?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i32(&mut self) -> Result<i32, &'static str> {
        Ok(i32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    /// A count of records, each at least one byte: never more than what is
    /// left, so a corrupt count cannot make us reserve gigabytes.
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.u32()? as usize;
        if n > self.0.len() { Err("truncated") } else { Ok(n) }
    }
    fn str(&mut self) -> Result<String, &'static str> {
        let n = self.count()?;
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        core::str::from_utf8(s).map(str::to_owned).map_err(|_| "bad string")
    }
    fn family(&mut self) -> Result<Family, &'static str> {
        match self.u8()? {
            4 => Ok(Family::V4),
            6 => Ok(Family::V6),
            _ => Err("bad family"),
        }
    }
    fn opt_ip(&mut self) -> Result<Option<IpAddr>, &'static str> {
        Ok(match self.u8()? {
            0 => None,
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.take::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.take::<16>()?))),
            _ => return Err("bad address"),
        })
    }
    fn ip(&mut self) -> Result<IpAddr, &'static str> {
        self.opt_ip()?.ok_or("missing address")
    }
    fn opt_time(&mut self) -> Result<Option<Instant>, &'static str> {
        Ok(match self.u64()? {
            0 => None,
            t => Some(Instant::from_micros(t)),
        })
    }
    fn instance(&mut self) -> Result<InstanceSnapshot, &'static str> {
        let key = RouterKey {
            vrid: self.u8()?,
            family: self.family()?,
            interface: self.str()?,
            unicast: self.u8()? != 0,
            src: self.opt_ip()?,
            group: self.ip()?,
        };
        let state = match self.u8()? {
            0 => State::Init,
            1 => State::Backup,
            2 => State::Master,
            3 => State::Fault,
            _ => return Err("bad state"),
        };
        let (tag, from, prio) = (self.u8()?, self.opt_ip()?, self.u8()?);
        let reason = match (tag, from) {
            (255, Some(from)) => Reason::HigherPriority { from, priority: prio },
            (t, _) => *REASONS.get(usize::from(t)).ok_or("bad reason")?,
        };
        let since = Instant::from_micros(self.u64()?);
        let base_priority = self.u8()?;
        let (m, mp) = (self.opt_ip()?, self.u8()?);
        let master_adver_int = Duration::from_micros(self.u64()?);
        let (master_seen, down_at, advert_at, garp_refresh_at) =
            (self.opt_time()?, self.opt_time()?, self.opt_time()?, self.opt_time()?);
        let mut st = Stats::default();
        for v in [
            &mut st.master_transitions,
            &mut st.adverts_rcvd,
            &mut st.adverts_sent,
            &mut st.pri_zero_rcvd,
            &mut st.pri_zero_sent,
            &mut st.send_failures,
            &mut st.release_master,
            &mut st.rcvd_pseudo_header_csum,
            &mut st.rcvd_rfc9568_csum,
        ] {
            *v = self.u64()?;
        }
        // A binary with more or fewer error kinds keeps the common ones.
        let n = self.count()?;
        for k in 0..n {
            let v = self.u64()?;
            if let Some(e) = st.errors.get_mut(k) {
                *e = v;
            }
        }
        let vips_held = self.u32()?;
        Ok(InstanceSnapshot {
            key,
            state,
            reason,
            since,
            base_priority,
            master: m.map(|a| (a, mp)),
            master_adver_int,
            master_seen,
            down_at,
            advert_at,
            garp_refresh_at,
            stats: st,
            vips_held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handover {
        let key = |vrid, unicast| RouterKey {
            vrid,
            family: Family::V4,
            interface: "eth0".to_owned(),
            unicast,
            src: unicast.then(|| IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            group: "224.0.0.18".parse().unwrap(),
        };
        let mut stats = Stats { adverts_sent: 12345, master_transitions: 2, ..Stats::default() };
        stats.errors[3] = 7;
        let master = InstanceSnapshot {
            key: key(51, false),
            state: State::Master,
            reason: Reason::HigherPriority { from: "fd00::1".parse().unwrap(), priority: 200 },
            since: Instant::from_micros(5_000_000),
            base_priority: 150,
            master: None,
            master_adver_int: Duration::from_millis(10),
            master_seen: None,
            down_at: None,
            advert_at: Some(Instant::from_micros(5_010_000)),
            garp_refresh_at: None,
            stats,
            vips_held: 1,
        };
        let backup = InstanceSnapshot {
            key: key(52, true),
            state: State::Backup,
            reason: Reason::Startup,
            master: Some(("10.0.0.2".parse().unwrap(), 200)),
            master_seen: Some(Instant::from_micros(4_999_000)),
            down_at: Some(Instant::from_micros(5_030_000)),
            advert_at: None,
            ..master.clone()
        };
        Handover {
            taken: Instant::from_micros(5_000_100),
            snapshot: Snapshot {
                instances: vec![master, backup],
                trackers: vec![TrackerSnapshot { name: "chk".to_owned(), status: TrackStatus::Down }],
            },
            vrrp: vec![KeptSocket {
                fd: 7,
                ifindex: 2,
                family: Family::V4,
                groups: vec!["224.0.0.18".parse().unwrap()],
            }],
            announcer: Some((10, None)),
            claims: vec![KeptClaims { fd: 11, ifindex: 2, v6: false, vips: vec!["10.0.0.100".parse().unwrap()] }],
            control: Some(8),
            metrics: None,
            client: Some(9),
        }
    }

    #[test]
    fn round_trips() {
        let h = sample();
        assert_eq!(decode(&encode(&h)), Ok(h));
        let empty = Handover::default();
        assert_eq!(decode(&encode(&empty)), Ok(empty));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(&sample());
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "truncated at {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn unknown_version_and_bad_magic_are_refused() {
        let mut bytes = encode(&sample());
        bytes[8] = bytes[8].wrapping_add(1);
        assert_eq!(decode(&bytes), Err("unknown snapshot version"));
        let mut bytes = encode(&sample());
        bytes[0] = b'X';
        assert_eq!(decode(&bytes), Err("not a vipd upgrade snapshot"));
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let bytes = encode(&sample());
        // Every byte flipped in turn, and runs of garbage: errors or some
        // other valid value, never a panic or a huge allocation.
        for i in 14..bytes.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= x;
                let _ = decode(&b);
            }
        }
        let mut b = bytes.clone();
        for (i, v) in b.iter_mut().enumerate().skip(14) {
            *v = (i * 37) as u8;
        }
        let _ = decode(&b);
    }
}
