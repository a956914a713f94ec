//! The physical floor of a master's CPU rows: the same VRRPv3 adverts per
//! interval as the daemon's instances (priority 150, R1's addresses,
//! checksums right, TOS 0xc0, TTL 255, no multicast loop: what vipd sends)
//! from a bare thread in R1's namespace with one raw socket per link and
//! one `sendmmsg` per 64 adverts (as vipd batches them), all at once each
//! interval: no engine, no timers, no receive path. The backup keeps
//! taking them for its master's, so the kernel does the same delivery
//! work, charged to the sender as it is to vipd. Its CPU is read the way
//! the daemons' is (utime + stime in /proc, here of the thread).
//!
//! Layouts: [`thousand`] for the `scale` section (250 VRIDs on each of
//! eth0 and vl1..vl3), [`on_eth0`] for the footprint rows (VRIDs 1..n on
//! eth0, the VIPs of `vip_of`).

use std::fs;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

const VRRP: libc::c_int = 112;
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// Per link: the source address and the (VRID, VIP) of each advert.
pub type Layout = Vec<(Ipv4Addr, Vec<(u8, Ipv4Addr)>)>;

/// The `scale` section's 1,000 instances: 250 VRIDs on each of eth0
/// (10.NET.0.1) and vl1..vl3 (10.NET.10K.1), VIPs 10.NET.(200+K).VRID.
pub fn thousand(net: u8) -> Layout {
    (0..4u8)
        .map(|link| {
            let src = if link == 0 { Ipv4Addr::new(10, net, 0, 1) } else { Ipv4Addr::new(10, net, 100 + link, 1) };
            (src, (0..250u8).map(|k| (k + 1, Ipv4Addr::new(10, net, 200 + link, k + 1))).collect())
        })
        .collect()
}

/// `n` (≤ 250) instances on eth0, VRIDs 1..n, VIPs 10.NET.1.VRID (`vip_of`).
pub fn on_eth0(net: u8, n: u8) -> Layout {
    vec![(Ipv4Addr::new(10, net, 0, 1), (1..=n).map(|k| (k, Ipv4Addr::new(10, net, 1, k))).collect())]
}

/// % of one core the sender used over `window`, after two intervals to
/// let the backup settle.
pub fn measure(ns: &Path, layout: &Layout, interval: Duration, window: Duration) -> Result<f64, String> {
    let ns = fs::File::open(ns).map_err(|e| format!("{}: {e}", ns.display()))?;
    std::thread::scope(|s| s.spawn(|| run(&ns, layout, interval, window)).join())
        .map_err(|_| "the floor thread panicked".to_owned())?
}

fn run(ns: &fs::File, layout: &Layout, interval: Duration, window: Duration) -> Result<f64, String> {
    enter(ns)?;
    let centis = u16::try_from(interval.as_millis() / 10).map_err(|_| "interval")?;
    let mut links = Vec::new();
    for (src, vrids) in layout {
        let adverts: Vec<[u8; 12]> = vrids.iter().map(|&(vrid, vip)| advert(*src, vrid, centis, vip)).collect();
        links.push((open(*src)?, adverts));
    }
    let dst = group_addr();
    // One sendmmsg per 64 adverts of a link, as vipd sends a wakeup's
    // adverts; the message headers are built once, outside the timed loop.
    let mut iovs: Vec<Vec<libc::iovec>> = links
        .iter()
        .map(|(_, adverts)| {
            adverts.iter().map(|a| libc::iovec { iov_base: a.as_ptr().cast_mut().cast(), iov_len: a.len() }).collect()
        })
        .collect();
    let mut msgs: Vec<Vec<libc::mmsghdr>> = iovs
        .iter_mut()
        .map(|link| {
            link.iter_mut()
                .map(|iov| {
                    // SAFETY: all-zero is a valid mmsghdr.
                    let mut m: libc::mmsghdr = unsafe { core::mem::zeroed() };
                    m.msg_hdr.msg_name = (&raw const dst).cast_mut().cast();
                    m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                    m.msg_hdr.msg_iov = iov;
                    m.msg_hdr.msg_iovlen = 1;
                    m
                })
                .collect()
        })
        .collect();
    let mut send_all = || {
        for ((sock, _), link) in links.iter().zip(msgs.iter_mut()) {
            for chunk in link.chunks_mut(64) {
                // SAFETY: every entry points at the address, an iovec and
                // an advert, all alive for the call.
                unsafe {
                    libc::sendmmsg(sock.as_raw_fd(), chunk.as_mut_ptr(), chunk.len() as _, libc::MSG_DONTROUTE as _)
                };
            }
        }
    };
    let start = Instant::now();
    let mut next = start;
    let mut tick = |until: Instant| {
        while Instant::now() < until {
            send_all();
            next += interval;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
    };
    tick(start + interval * 2);
    // SAFETY: gettid has no preconditions. /proc/TID/stat is the thread's.
    let tid = unsafe { libc::gettid() } as u32;
    let (t0, c0) = (Instant::now(), super::cpu_ticks(tid));
    tick(t0 + window);
    let (elapsed, c1) = (t0.elapsed().as_secs_f64(), super::cpu_ticks(tid));
    Ok((c1 - c0) as f64 / super::clock_ticks() / elapsed * 100.0)
}

/// 224.0.0.18, VRRP's group, as a destination.
pub fn group_addr() -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(GROUP).to_be() },
        sin_zero: [0; 8],
    }
}

/// Moves the calling thread (only) into the network namespace `ns`: every
/// floor measures from a thread of its own inside the lab.
pub fn enter(ns: &fs::File) -> Result<(), String> {
    // SAFETY: setns on this thread only, with a namespace fd we hold.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// A raw VRRP socket sending from `src`, as vipd's do.
pub fn open(src: Ipv4Addr) -> Result<OwnedFd, String> {
    let err = |what: &str| format!("{what} {src}: {}", std::io::Error::last_os_error());
    // SAFETY: plain socket calls on an fd this function owns; option
    // values outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, VRRP);
        if fd < 0 {
            return Err(err("socket"));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let int = |level, name, v: libc::c_int| {
            let len = size_of::<libc::c_int>() as libc::socklen_t;
            libc::setsockopt(fd.as_raw_fd(), level, name, (&raw const v).cast(), len)
        };
        if int(libc::IPPROTO_IP, libc::IP_TOS, 0xc0) != 0
            || int(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, 255) != 0
            || int(libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, 0) != 0
        {
            return Err(err("setsockopt"));
        }
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from(src).to_be() },
            sin_zero: [0; 8],
        };
        if libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), size_of::<libc::sockaddr_in>() as libc::socklen_t) != 0 {
            return Err(err("bind"));
        }
        let ifaddr = libc::in_addr { s_addr: u32::from(src).to_be() };
        let len = size_of::<libc::in_addr>() as libc::socklen_t;
        if libc::setsockopt(fd.as_raw_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF, (&raw const ifaddr).cast(), len)
            != 0
        {
            return Err(err("IP_MULTICAST_IF"));
        }
        Ok(fd)
    }
}

/// A VRRPv3 advert (RFC 9568 §5.1) with one IPv4 address, its checksum over
/// the pseudo-header as vipd and keepalived send it.
pub fn advert(src: Ipv4Addr, vrid: u8, centis: u16, vip: Ipv4Addr) -> [u8; 12] {
    let mut a = [0u8; 12];
    a[0] = 0x31;
    a[1] = vrid;
    a[2] = 150;
    a[3] = 1;
    a[4..6].copy_from_slice(&(centis & 0x0fff).to_be_bytes());
    a[8..12].copy_from_slice(&vip.octets());
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for w in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&GROUP.octets());
    add(&[0, VRRP as u8, 0, 12]);
    add(&a);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    a[6..8].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    a
}
