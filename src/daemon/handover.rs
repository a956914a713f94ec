//! The bytes `vipd upgrade` hands to the next binary in a memfd: a fixed
//! header (magic, format version, the body's length, the record counts and
//! the fds of the listeners and the client), then arrays of fixed records:
//! the engine's [`InstanceSnapshot`]s and [`TrackerSnapshot`]s, the VRRP
//! sockets kept across the `execve`, and fds kept only to be closed. Every
//! record is plain bytes without padding, little-endian (the only byte
//! order vipd is built for: see the assertion below), hand-rolled rather
//! than serde, which would cost more of the static binary than the whole
//! format. Decoding never panics: a truncated, corrupt or unknown-version
//! input is an error, and the next binary then starts as a reload starts
//! new instances.

use core::net::IpAddr;

use bytemuck::{Pod, Zeroable};

use crate::config::Family;
use crate::core::{InstanceSnapshot, Snapshot, TrackerSnapshot};
use crate::time::Instant;

// The records are written in the machine's byte order.
const _: () = assert!(cfg!(target_endian = "little"), "the upgrade snapshot is little-endian");

pub const MAGIC: [u8; 8] = *b"VIPDUPG\0";
/// Bumped whenever a record changes; a binary takes over only from the
/// format it reads (`vipd -t --snapshot-format N`, run before the `execve`).
pub const VERSION: u16 = 1;
/// More than any configuration produces (1,000 instances take ~350 kB).
pub const MAX_LEN: usize = 64 << 20;

/// A VRRP receive socket kept across the `execve`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptSocket {
    pub fd: i32,
    pub ifindex: u32,
    pub family: Family,
    pub groups: Vec<IpAddr>,
}

/// Everything the previous image hands over.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Handover {
    /// CLOCK_MONOTONIC when the snapshot was taken, just before `execve`.
    pub taken: Instant,
    pub snapshot: Snapshot,
    pub vrrp: Vec<KeptSocket>,
    pub control: Option<i32>,
    pub metrics: Option<i32>,
    /// The `vipd upgrade` client, told the outcome once the new image runs.
    pub client: Option<i32>,
    /// Kept open only to be closed off the loop (packet sockets: closing
    /// one waits for an RCU grace period, 10-20 ms, which an `execve`
    /// closing them would add to the advert gap).
    pub close: Vec<i32>,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Header {
    magic: [u8; 8],
    version: u16,
    pad: u16,
    /// Bytes after the header.
    len: u32,
    taken: u64,
    /// Instances, trackers, socket groups, fds to close.
    counts: [u32; 4],
    /// control, metrics, client (-1: none).
    fds: [i32; 4],
}

/// One multicast group of a kept socket (a socket without any has one
/// record with no group); consecutive records of one fd are one socket.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SocketRec {
    fd: i32,
    ifindex: u32,
    family: u8,
    group: [u8; 17],
    pad: [u8; 2],
}

const HEADER: usize = core::mem::size_of::<Header>();

/// Records of `T` copied out of `b` (whose length is a multiple of the
/// record's: checked by the caller), whatever its alignment.
fn records<T: Pod>(b: &[u8]) -> Vec<T> {
    b.chunks_exact(core::mem::size_of::<T>()).map(bytemuck::pod_read_unaligned).collect()
}

pub fn encode(h: &Handover) -> Vec<u8> {
    let mut socks = Vec::new();
    for k in &h.vrrp {
        let family = if k.family == Family::V4 { 4 } else { 6 };
        let rec = |g| SocketRec { fd: k.fd, ifindex: k.ifindex, family, group: g, pad: [0; 2] };
        socks.extend(k.groups.iter().map(|g| rec(crate::core::reload_ip17(Some(*g)))));
        if k.groups.is_empty() {
            socks.push(rec([0; 17]));
        }
    }
    let (inst, trk) = (&h.snapshot.instances, &h.snapshot.trackers);
    let body: [&[u8]; 4] = [
        bytemuck::cast_slice(inst),
        bytemuck::cast_slice(trk),
        bytemuck::cast_slice(&socks),
        bytemuck::cast_slice(&h.close),
    ];
    let header = Header {
        magic: MAGIC,
        version: VERSION,
        pad: 0,
        len: body.iter().map(|b| b.len()).sum::<usize>() as u32,
        taken: h.taken.as_micros(),
        counts: [inst.len() as u32, trk.len() as u32, socks.len() as u32, h.close.len() as u32],
        fds: [h.control.unwrap_or(-1), h.metrics.unwrap_or(-1), h.client.unwrap_or(-1), -1],
    };
    let mut w = bytemuck::bytes_of(&header).to_vec();
    body.iter().for_each(|b| w.extend_from_slice(b));
    w
}

pub fn decode(bytes: &[u8]) -> Result<Handover, &'static str> {
    let head: Header =
        bytemuck::try_pod_read_unaligned(bytes.get(..HEADER).ok_or("truncated")?).map_err(|_| "truncated")?;
    if head.magic != MAGIC {
        return Err("not a vipd upgrade snapshot");
    }
    if head.version != VERSION {
        return Err("unknown snapshot version");
    }
    let sizes = [
        core::mem::size_of::<InstanceSnapshot>(),
        core::mem::size_of::<TrackerSnapshot>(),
        core::mem::size_of::<SocketRec>(),
        core::mem::size_of::<i32>(),
    ];
    let mut lens = [0usize; 4];
    for ((l, &n), size) in lens.iter_mut().zip(&head.counts).zip(sizes) {
        *l = (n as usize).checked_mul(size).ok_or("bad count")?;
    }
    let total = lens.iter().try_fold(0usize, |a, &l| a.checked_add(l)).ok_or("bad count")?;
    let mut body = &bytes[HEADER..];
    if head.len as usize != body.len() || total != body.len() {
        return Err("length does not match");
    }
    let mut next = |l: usize| {
        let (a, b) = body.split_at(l);
        body = b;
        a
    };
    let instances = records(next(lens[0]));
    let trackers = records(next(lens[1]));
    let socks: Vec<SocketRec> = records(next(lens[2]));
    let close = records(next(lens[3]));
    let mut vrrp: Vec<KeptSocket> = Vec::new();
    for r in socks {
        let family = if r.family == 6 { Family::V6 } else { Family::V4 };
        let group = crate::core::reload_from17(&r.group);
        match vrrp.last_mut() {
            Some(k) if k.fd == r.fd => k.groups.extend(group),
            _ => vrrp.push(KeptSocket { fd: r.fd, ifindex: r.ifindex, family, groups: group.into_iter().collect() }),
        }
    }
    let fd = |v: i32| (v >= 0).then_some(v);
    Ok(Handover {
        taken: Instant::from_micros(head.taken),
        snapshot: Snapshot { instances, trackers },
        vrrp,
        control: fd(head.fds[0]),
        metrics: fd(head.fds[1]),
        client: fd(head.fds[2]),
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handover {
        let mut master = InstanceSnapshot::zeroed();
        master.vrid = 51;
        master.family = 4;
        master.state = 2;
        master.interface[..4].copy_from_slice(b"eth0");
        master.times[0] = 5_000_000;
        master.counters[2] = 12345;
        master.reason = 255;
        master.reason_from[0] = 6;
        let mut backup = master;
        backup.vrid = 52;
        backup.state = 1;
        backup.master = [4, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Handover {
            taken: Instant::from_micros(5_000_100),
            snapshot: Snapshot {
                instances: vec![master, backup],
                trackers: vec![TrackerSnapshot { name_hash: 77, status: 2, pad: [0; 7] }],
            },
            vrrp: vec![
                KeptSocket {
                    fd: 7,
                    ifindex: 2,
                    family: Family::V4,
                    groups: vec!["224.0.0.18".parse().unwrap(), "224.0.0.19".parse().unwrap()],
                },
                KeptSocket { fd: 9, ifindex: 3, family: Family::V6, groups: vec![] },
            ],
            control: Some(8),
            metrics: None,
            client: Some(12),
            close: vec![10, 11],
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
        // Every byte flipped in turn (counts and lengths included), and
        // garbage: an error or some other value, never a panic or a huge
        // allocation.
        for i in 0..bytes.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= x;
                let _ = decode(&b);
            }
        }
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 37) as u8).collect();
        assert!(decode(&garbage).is_err());
        let mut huge = encode(&Handover::default());
        huge[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
    }
}
