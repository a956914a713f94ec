//! Adverts sent by the batch: one `sendmmsg` for the adverts a wakeup has
//! for one socket. With 1,000 instances on four links every interval's
//! adverts fall due together; one syscall per advert meant a kernel entry
//! each, and each packet, delivered at once over a veth or bridge, woke the
//! peer's reader while the next was still being prepared, so the two
//! processes took turns packet by packet (measured: a 50 × 10 ms backup
//! woke 2,700 times a second for 5,000 adverts). The batch is built on the
//! stack, nothing allocates; each message is what [`VrrpSocket::send`]
//! would have sent, byte for byte.

use super::*;
use bytemuck::Zeroable;

/// Most adverts one `sendmmsg` carries (a batch of more is sent in runs).
pub const BATCH: usize = 64;

/// One advert of a batch: what [`VrrpSocket::send`] takes.
#[derive(Clone, Copy, Debug)]
pub struct Outgoing<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub ip_id: u16,
    pub vrrp: &'a [u8],
}

impl VrrpSocket {
    /// Sends `msgs` as [`VrrpSocket::send`] would, one by one, in order,
    /// in as few `sendmmsg` calls as it takes, and tells `done` what became
    /// of each (by index; one refused before any syscall, say of the wrong
    /// family, is told first). A message the kernel refuses is reported and
    /// the rest still go.
    pub fn send_batch(&self, msgs: &[Outgoing<'_>], done: &mut dyn FnMut(usize, io::Result<()>)) {
        let mut start = 0;
        while start < msgs.len() {
            let end = (start + BATCH).min(msgs.len());
            match self.family {
                Family::V4 => self.batch_v4(start, &msgs[start..end], done),
                Family::V6 => self.batch_v6(start, &msgs[start..end], done),
            }
            start = end;
        }
    }

    /// At most [`BATCH`] IPv4 messages, `base` the index of the first.
    fn batch_v4(&self, base: usize, msgs: &[Outgoing<'_>], done: &mut dyn FnMut(usize, io::Result<()>)) {
        let mut hdrs = [Ipv4Header::zeroed(); BATCH];
        let mut names: [libc::sockaddr_in; BATCH] = [zeroed_sockaddr_in(); BATCH];
        let mut iovs = [[empty_iov(); 2]; BATCH];
        // Which message each built entry is; invalid ones are reported and
        // left out.
        let mut which = [0usize; BATCH];
        let mut multicast = [false; BATCH];
        let mut n = 0;
        for (k, m) in msgs.iter().enumerate() {
            let (IpAddr::V4(src), IpAddr::V4(dst)) = (m.src, m.dst) else {
                done(base + k, Err(invalid_input()));
                continue;
            };
            let Ok(h) = Ipv4Header::vrrp(src, dst, m.ttl, m.ip_id, m.vrrp.len()) else {
                done(base + k, Err(invalid_input()));
                continue;
            };
            hdrs[n] = h;
            names[n].sin_addr = libc::in_addr { s_addr: u32::from(dst).to_be() };
            multicast[n] = dst.is_multicast();
            which[n] = base + k;
            n += 1;
        }
        for k in 0..n {
            iovs[k] = [
                libc::iovec { iov_base: (&raw mut hdrs[k]).cast(), iov_len: ipv4::HEADER_LEN },
                libc::iovec {
                    iov_base: msgs[which[k] - base].vrrp.as_ptr().cast_mut().cast(),
                    iov_len: msgs[which[k] - base].vrrp.len(),
                },
            ];
        }
        // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
        let mut mm: [libc::mmsghdr; BATCH] = unsafe { core::mem::zeroed() };
        for k in 0..n {
            let h = &mut mm[k].msg_hdr;
            h.msg_name = (&raw mut names[k]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = iovs[k].as_mut_ptr();
            h.msg_iovlen = 2;
        }
        let expected = |k: usize| ipv4::HEADER_LEN + msgs[which[k] - base].vrrp.len();
        // keepalived sends multicast with MSG_DONTROUTE (see `send_v4`);
        // the flag is per call, so a change of kind starts a new run.
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && multicast[end] == multicast[start] {
                end += 1;
            }
            let flags = if multicast[start] { libc::MSG_DONTROUTE } else { 0 };
            self.run(&mut mm[start..end], flags, &mut |k, r| {
                done(which[start + k], r.and_then(|sent| check_sent(sent, expected(start + k))))
            });
            start = end;
        }
    }

    /// At most [`BATCH`] IPv6 messages, `base` the index of the first.
    fn batch_v6(&self, base: usize, msgs: &[Outgoing<'_>], done: &mut dyn FnMut(usize, io::Result<()>)) {
        // SAFETY: all-zero is a valid sockaddr_in6.
        let mut names: [libc::sockaddr_in6; BATCH] = unsafe { core::mem::zeroed() };
        let mut controls = [const { Control([0; CONTROL_LEN]) }; BATCH];
        let mut control_lens = [0usize; BATCH];
        let mut iovs = [empty_iov(); BATCH];
        let mut which = [0usize; BATCH];
        let mut n = 0;
        for (k, m) in msgs.iter().enumerate() {
            let (IpAddr::V6(src), IpAddr::V6(dst)) = (m.src, m.dst) else {
                done(base + k, Err(invalid_input()));
                continue;
            };
            let Some(len) = encode_tx_cmsgs(&mut controls[n].0, src, self.ifindex, m.ttl) else {
                done(base + k, Err(invalid_input()));
                continue;
            };
            // As in `send_v6`: a scope id for link-local and multicast.
            let scope = if dst.is_multicast() || dst.is_unicast_link_local() { self.ifindex } else { 0 };
            names[n] = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr { s6_addr: dst.octets() },
                sin6_scope_id: scope,
            };
            control_lens[n] = len;
            iovs[n] = libc::iovec { iov_base: m.vrrp.as_ptr().cast_mut().cast(), iov_len: m.vrrp.len() };
            which[n] = base + k;
            n += 1;
        }
        // SAFETY: all-zero is a valid mmsghdr.
        let mut mm: [libc::mmsghdr; BATCH] = unsafe { core::mem::zeroed() };
        for k in 0..n {
            let h = &mut mm[k].msg_hdr;
            h.msg_name = (&raw mut names[k]).cast();
            h.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            h.msg_iov = &raw mut iovs[k];
            h.msg_iovlen = 1;
            h.msg_control = controls[k].0.as_mut_ptr().cast();
            h.msg_controllen = control_lens[k] as _;
        }
        self.run(&mut mm[..n], 0, &mut |k, r| {
            done(which[k], r.and_then(|sent| check_sent(sent, msgs[which[k] - base].vrrp.len())))
        });
    }

    /// `sendmmsg` until every message of `mm` went or failed: the kernel
    /// stops at the first it refuses (and says why on the next call), so
    /// that one is reported and the rest are sent again. Reports the bytes
    /// each took.
    fn run(&self, mm: &mut [libc::mmsghdr], flags: libc::c_int, done: &mut dyn FnMut(usize, io::Result<usize>)) {
        let fd = self.fd.get_ref().as_raw_fd();
        let mut start = 0;
        while start < mm.len() {
            let rest = &mut mm[start..];
            // The system call itself, not libc's wrapper: musl's sendmmsg
            // on 64-bit targets loops over sendmsg in user space (to clear
            // the padding its msghdr has where the kernel's has 64-bit
            // lengths), which would make the static binary's batch one
            // syscall per advert again (seen with strace). Every entry here
            // starts all-zero, padding included, so glibc's and musl's
            // layouts both read as the kernel's.
            // SAFETY: every entry points at a name, iovecs (pointing at
            // live buffers) and, for IPv6, a control buffer, all alive for
            // the call; the kernel writes only each entry's `msg_len`.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_sendmmsg,
                    libc::c_long::from(fd),
                    rest.as_mut_ptr(),
                    rest.len() as libc::c_ulong,
                    libc::c_long::from(flags),
                )
            };
            match usize::try_from(r) {
                Ok(sent) if sent > 0 => {
                    for (k, m) in mm.iter().enumerate().skip(start).take(sent) {
                        done(k, Ok(m.msg_len as usize));
                    }
                    start += sent;
                }
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    done(start, Err(e));
                    start += 1;
                }
            }
        }
    }
}

const fn empty_iov() -> libc::iovec {
    libc::iovec { iov_base: core::ptr::null_mut(), iov_len: 0 }
}

const fn zeroed_sockaddr_in() -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    }
}
