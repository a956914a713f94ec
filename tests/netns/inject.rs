//! Crafted VRRP packets from a third host, for the hostile-input tests:
//! adverts built byte by byte (any source, TTL / hop limit, priority,
//! interval, address list) and sent as raw IP packets through a packet
//! socket, so nothing of the sending host's stack (source selection, TTL,
//! checksum offload) decides what goes on the wire. The checksums come from
//! vipd's wire module, the only thing borrowed from the code under test.
//! This file sends; it never judges what the daemons did.

use std::ffi::CString;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vipd::wire::checksum::{internet_checksum, pseudo_header_v4, pseudo_header_v6};

const IPPROTO_VRRP: u8 = 112;

/// One IP packet and the Ethernet destination it goes to.
#[derive(Clone, Debug)]
pub struct Crafted {
    pub dst_mac: [u8; 6],
    /// 0x0800 or 0x86dd.
    pub ethertype: u16,
    pub bytes: Vec<u8>,
}

/// What to put in a crafted advert.
#[derive(Clone, Debug)]
pub struct Spec {
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v3: centiseconds; v2: seconds.
    pub interval: u16,
    pub addrs: Vec<IpAddr>,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL or hop limit.
    pub ttl: u8,
}

/// The Ethernet group address of an IPv4 or IPv6 multicast destination.
pub fn multicast_mac(dst: IpAddr) -> [u8; 6] {
    match dst {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x33, 0x33, o[12], o[13], o[14], o[15]]
        }
    }
}

/// The VRRP message of `s` with a valid checksum (VRRPv3 over IPv4 in
/// keepalived's form, with the pseudo-header).
pub fn vrrp(s: &Spec) -> Vec<u8> {
    let mut m = vec![(s.version << 4) | 1, s.vrid, s.priority, s.addrs.len() as u8];
    if s.version == 3 {
        m.extend_from_slice(&(s.interval & 0x0fff).to_be_bytes());
    } else {
        m.push(0); // no authentication
        m.push(s.interval as u8);
    }
    m.extend_from_slice(&[0, 0]);
    for a in &s.addrs {
        match a {
            IpAddr::V4(a) => m.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => m.extend_from_slice(&a.octets()),
        }
    }
    if s.version == 2 {
        m.extend_from_slice(&[0; 8]);
    }
    let sum = match (s.version, s.src, s.dst) {
        (3, IpAddr::V4(src), IpAddr::V4(dst)) => {
            internet_checksum(&[&pseudo_header_v4(src, dst, IPPROTO_VRRP, m.len() as u16), &m])
        }
        (_, IpAddr::V6(src), IpAddr::V6(dst)) => {
            internet_checksum(&[&pseudo_header_v6(src, dst, IPPROTO_VRRP, m.len() as u32), &m])
        }
        _ => internet_checksum(&[&m]),
    };
    m[6..8].copy_from_slice(&sum.to_be_bytes());
    m
}

/// `s` as a whole IP packet to `dst_mac`.
pub fn advert(s: &Spec, dst_mac: [u8; 6]) -> Crafted {
    let payload = vrrp(s);
    let mut p = Vec::with_capacity(40 + payload.len());
    let ethertype = match (s.src, s.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let total = (20 + payload.len()) as u16;
            p.extend_from_slice(&[0x45, 0xc0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 1, 0, 0, s.ttl, IPPROTO_VRRP, 0, 0]);
            p.extend_from_slice(&src.octets());
            p.extend_from_slice(&dst.octets());
            let sum = internet_checksum(&[&p]);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            0x0800
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            p.extend_from_slice(&[0x6c, 0, 0, 0]);
            p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[IPPROTO_VRRP, s.ttl]);
            p.extend_from_slice(&src.octets());
            p.extend_from_slice(&dst.octets());
            0x86dd
        }
        _ => panic!("mixed families in {s:?}"),
    };
    p.extend_from_slice(&payload);
    Crafted { dst_mac, ethertype, bytes: p }
}

/// A sender running on a thread of its own inside a namespace.
pub struct Sender {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Sender {
    /// Sends `packets` round-robin from `dev` of the namespace at `ns`
    /// (`/run/netns/NAME`), `rate` packets per second (0: as fast as the
    /// socket takes them), for `period` or until stopped; `count` caps the
    /// total when not 0.
    pub fn start(ns: PathBuf, dev: &str, packets: Vec<Crafted>, rate: u32, period: Duration, count: u64) -> Sender {
        assert!(!packets.is_empty(), "nothing to send");
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let dev = CString::new(dev).expect("interface name");
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let (fd, ifindex) = open(&ns, &dev);
            let _ = ready_tx.send(());
            let start = Instant::now();
            let mut n: u64 = 0;
            while !stop2.load(Ordering::Relaxed) && start.elapsed() < period && (count == 0 || n < count) {
                if rate > 0 {
                    // Paced in 1 ms steps, so a flood is a flood and not
                    // one burst per second.
                    let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64 + 1;
                    if n >= due {
                        std::thread::sleep(Duration::from_micros(500));
                        continue;
                    }
                }
                let p = &packets[(n % packets.len() as u64) as usize];
                if send(&fd, ifindex, p) {
                    n += 1;
                    sent2.store(n, Ordering::Relaxed);
                } else {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        });
        let _ = ready_rx.recv_timeout(Duration::from_secs(5));
        Sender { stop, sent, thread: Some(thread) }
    }

    /// Waits until the period or count is over; the number of packets sent.
    pub fn wait(mut self) -> u64 {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops sending now; the number of packets sent.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `packets` once each, in order, from `dev` in `ns`; waits for it.
pub fn send_all(ns: PathBuf, dev: &str, packets: Vec<Crafted>) -> u64 {
    let n = packets.len() as u64;
    Sender::start(ns, dev, packets, 0, Duration::from_secs(30), n).wait()
}

/// A SOCK_DGRAM packet socket in namespace `ns` (moves the calling thread
/// there) and the index of `dev`.
fn open(ns: &PathBuf, dev: &CString) -> (OwnedFd, i32) {
    let netns = fs::File::open(ns).unwrap_or_else(|e| panic!("open {}: {e}", ns.display()));
    // SAFETY: plain syscalls on descriptors this function owns; the
    // pointers passed are live locals.
    unsafe {
        assert_eq!(libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns: {}", io::Error::last_os_error());
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "packet socket: {}", io::Error::last_os_error());
        let ifindex = libc::if_nametoindex(dev.as_ptr());
        assert_ne!(ifindex, 0, "{dev:?}: {}", io::Error::last_os_error());
        (OwnedFd::from_raw_fd(fd), ifindex as i32)
    }
}

fn send(fd: &OwnedFd, ifindex: i32, p: &Crafted) -> bool {
    // SAFETY: `sll` is a live, zero-initialised sockaddr_ll and `p.bytes` a
    // live buffer of the length passed.
    unsafe {
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = p.ethertype.to_be();
        sll.sll_ifindex = ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&p.dst_mac);
        let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        let n = libc::sendto(fd.as_raw_fd(), p.bytes.as_ptr().cast(), p.bytes.len(), 0, (&raw const sll).cast(), len);
        if n < 0 {
            let e = io::Error::last_os_error();
            assert!(e.raw_os_error() == Some(libc::ENOBUFS), "send a crafted packet: {e}");
        }
        n >= 0
    }
}

/// A gratuitous ARP (request, sender and target `ip`) claiming `ip` for
/// `mac`, to the Ethernet broadcast address; the frame's own source MAC is
/// the sending interface's, as with `arping -U -s`. Built by vipd's wire
/// module, whose GARP is checked byte for byte against keepalived's.
pub fn garp(mac: [u8; 6], ip: std::net::Ipv4Addr) -> Crafted {
    let frame = vipd::wire::arp::GarpFrame::new(mac, ip);
    Crafted { dst_mac: [0xff; 6], ethertype: 0x0806, bytes: frame.arp_payload().to_vec() }
}

/// An unsolicited Neighbor Advertisement claiming `target` for `mac`, from
/// `src` to ff02::1 with hop limit `hop_limit` (RFC 4861 wants 255).
pub fn unsolicited_na(mac: [u8; 6], target: std::net::Ipv6Addr, src: std::net::Ipv6Addr, hop_limit: u8) -> Crafted {
    use vipd::wire::ndisc::{ALL_NODES, NeighborAdvert};
    let na = NeighborAdvert::with_addrs(mac, target, false, src, ALL_NODES);
    let icmp = na.as_bytes();
    let mut p = Vec::with_capacity(40 + icmp.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    p.extend_from_slice(&[58, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&ALL_NODES.octets());
    p.extend_from_slice(icmp);
    Crafted { dst_mac: multicast_mac(IpAddr::V6(ALL_NODES)), ethertype: 0x86dd, bytes: p }
}
