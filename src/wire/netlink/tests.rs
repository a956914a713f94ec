use super::*;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends native-endian fields, to write kernel messages by hand.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_ne_bytes());
        self
    }
    fn bytes(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    fn pad(mut self) -> Self {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
        self
    }
    /// An attribute: rta_len (header + payload), type, payload, pad.
    fn attr(self, kind: u16, payload: &[u8]) -> Self {
        self.u16(4 + payload.len() as u16).u16(kind).bytes(payload).pad()
    }
    /// nlmsghdr in front of `body`.
    fn msg(kind: u16, flags: u16, seq: u32, pid: u32, body: Raw) -> Raw {
        Raw::default().u32(16 + body.0.len() as u32).u16(kind).u16(flags).u32(seq).u32(pid).bytes(&body.0)
    }
}

fn only_msg(bytes: &[u8]) -> NlMsg<'_> {
    let all: Vec<_> = messages(bytes).collect();
    assert_eq!(all.len(), 1);
    all[0].unwrap()
}

#[test]
fn test_struct_sizes() {
    assert_eq!(size_of::<NlMsgHdr>(), 16);
    assert_eq!(size_of::<IfAddrMsg>(), 8);
    assert_eq!(size_of::<IfInfoMsg>(), 16);
    assert_eq!(size_of::<RtAttr>(), 4);
    assert_eq!(size_of::<NlMsgErr>(), 20);
    assert_eq!(align_of::<NlMsgErr>(), 1);
    assert_eq!(align_of::<IfInfoMsg>(), 1);
}

/// RTM_NEWADDR 10.200.0.50/32: exactly the 40-byte request that added
/// the address in the platform test, then parsed back.
#[test]
fn test_construct_addr_request_v4() {
    let addr = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 50));
    let mut buf = [0xa5u8; 64];
    let got = addr_request(&mut buf, RTM_NEWADDR, 7, 2, addr, 32, None, 0, None, true).unwrap().to_vec();
    let body = Raw::default()
        .bytes(&[AF_INET, 32, 0, 0])
        .u32(2)
        .attr(IFA_LOCAL, &[10, 200, 0, 50])
        .attr(IFA_ADDRESS, &[10, 200, 0, 50]);
    let want = Raw::msg(RTM_NEWADDR, 0x605, 7, 0, body);
    assert_eq!(got, want.0);
    assert_eq!(got.len(), 40);
    assert!(buf[40..].iter().all(|&b| b == 0xa5));

    let msg = only_msg(&got);
    assert_eq!(msg.flags(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    let info = AddrInfo::parse(&msg).unwrap();
    let want = AddrInfo { index: 2, family: AF_INET, prefixlen: 32, flags: 0, scope: 0, addr, label: None };
    assert_eq!(info, want);
}

#[test]
fn test_construct_addr_request_v4_full() {
    let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));
    let bcast = Some(Ipv4Addr::new(10, 0, 0, 255));
    let mut buf = [0xa5u8; 128];
    let got = addr_request(&mut buf, RTM_DELADDR, 9, 3, addr, 24, bcast, RT_SCOPE_UNIVERSE, Some("eth0:vip"), false)
        .unwrap()
        .to_vec();
    let body = Raw::default()
        .bytes(&[AF_INET, 24, 0, 0])
        .u32(3)
        .attr(IFA_LOCAL, &[10, 0, 0, 100])
        .attr(IFA_ADDRESS, &[10, 0, 0, 100])
        .attr(IFA_BROADCAST, &[10, 0, 0, 255])
        .attr(IFA_LABEL, b"eth0:vip\0");
    assert_eq!(got, Raw::msg(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, 9, 0, body).0);
    let msg = only_msg(&got);
    assert_eq!(
        msg.decode().unwrap(),
        Decoded::DelAddr(AddrInfo {
            index: 3,
            family: AF_INET,
            prefixlen: 24,
            flags: 0,
            scope: 0,
            addr,
            label: Some("eth0:vip".try_into().unwrap()),
        })
    );
    // Every buffer shorter than the message is refused.
    for n in 0..got.len() {
        let r = addr_request(&mut buf[..n], RTM_DELADDR, 9, 3, addr, 24, bcast, 0, Some("eth0:vip"), false);
        assert_eq!(r, Err(NlError::BufferTooSmall), "{n}");
    }
}

#[test]
fn test_construct_addr_request_v6() {
    let addr: IpAddr = "fd00::100".parse().unwrap();
    let mut buf = [0xa5u8; 128];
    let bcast = Some(Ipv4Addr::BROADCAST); // ignored for IPv6
    let got = addr_request(&mut buf, RTM_NEWADDR, 1, 2, addr, 128, bcast, 0, Some("x"), true).unwrap().to_vec();
    let a = addr_octets(addr);
    let body = Raw::default()
        .bytes(&[AF_INET6, 128, IFA_F_NODAD as u8, 0])
        .u32(2)
        .attr(IFA_LOCAL, &a)
        .attr(IFA_ADDRESS, &a)
        .attr(IFA_FLAGS, &IFA_F_NODAD.to_ne_bytes());
    assert_eq!(got, Raw::msg(RTM_NEWADDR, 0x605, 1, 0, body).0);
    let info = AddrInfo::parse(&only_msg(&got)).unwrap();
    assert_eq!((info.addr, info.flags, info.prefixlen), (addr, IFA_F_NODAD, 128));

    let without = addr_request(&mut buf, RTM_NEWADDR, 1, 2, addr, 64, None, 0, None, false).unwrap();
    assert_eq!(without.len(), 16 + 8 + 20 + 20);
}

fn addr_octets(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

#[test]
fn test_addr_request_invalid() {
    let mut buf = [0u8; 128];
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let v6: IpAddr = "fd00::1".parse().unwrap();
    let inv = Err(NlError::Invalid);
    assert_eq!(addr_request(&mut buf, RTM_GETADDR, 1, 1, v4, 32, None, 0, None, false), inv);
    assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 33, None, 0, None, false), inv);
    assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v6, 129, None, 0, None, false), inv);
    let long = Some("0123456789abcdef");
    assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, long, false), inv);
    let nul = Some("a\0b");
    assert_eq!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, nul, false), inv);
    let ok15 = Some("0123456789abcde");
    assert!(addr_request(&mut buf, RTM_NEWADDR, 1, 1, v4, 32, None, 0, ok15, false).is_ok());
}

#[test]
fn test_construct_dumps() {
    let mut buf = [0xa5u8; 64];
    let got = getlink_dump(&mut buf, 5).unwrap().to_vec();
    let want = Raw::msg(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 5, 0, Raw::default().bytes(&[0; 16]));
    assert_eq!(got, want.0);
    assert_eq!(got.len(), 32);
    let got = getaddr_dump(&mut buf, 6, AF_INET6).unwrap().to_vec();
    let body = Raw::default().bytes(&[AF_INET6, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(got, Raw::msg(RTM_GETADDR, 0x301, 6, 0, body).0);
    assert_eq!(getlink_dump(&mut buf[..31], 5), Err(NlError::BufferTooSmall));
    assert_eq!(getaddr_dump(&mut buf[..23], 5, 0), Err(NlError::BufferTooSmall));
    let msg = only_msg(&got);
    assert_eq!(msg.decode(), Ok(Decoded::Other(RTM_GETADDR)));
}

#[test]
fn test_builder() {
    let mut buf = [0xa5u8; 64];
    let mut b = NlBuilder::new(&mut buf);
    assert_eq!(b.attr(1, &[1]).err(), Some(NlError::NoHeader));
    assert_eq!(b.push(&0u32).err(), Some(NlError::NoHeader));
    b.header(100, 1, 2).unwrap().attr(1, &[9]).unwrap().attr(2, &[]).unwrap().push(&[7u8; 3]).unwrap();
    let got = b.finish().unwrap().to_vec();
    let want = Raw::default().attr(1, &[9]).attr(2, &[]).bytes(&[7, 7, 7]).pad();
    assert_eq!(got, Raw::msg(100, 1, 2, 0, want).0);
    assert_eq!(NlBuilder::new(&mut buf).finish(), Err(NlError::NoHeader));
    let mut big = [0u8; 70_000];
    let mut b = NlBuilder::new(&mut big);
    b.header(1, 0, 0).unwrap();
    assert_eq!(b.attr(1, &[0; 65_532]).err(), Some(NlError::BufferTooSmall));
    assert!(b.attr(1, &[0; 65_531]).is_ok());
}

/// RTM_NEWLINK as the kernel sends it for a veth in a dump reply,
/// written field by field from linux/rtnetlink.h and if_link.h, with a
/// nested IFLA_AF_SPEC, followed by NLMSG_DONE.
fn kernel_newlink() -> Vec<u8> {
    let af_inet = Raw::default().attr(1 | NLA_F_NESTED, &Raw::default().attr(1, &[0; 8]).0);
    let body = Raw::default()
        .u8(AF_UNSPEC)
        .u8(0)
        .u16(1) // ARPHRD_ETHER
        .u32(7)
        .u32(IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | IFF_LOWER_UP)
        .u32(0)
        .attr(IFLA_IFNAME, b"vb\0")
        .attr(IFLA_TXQLEN, &1000u32.to_ne_bytes())
        .attr(IFLA_OPERSTATE, &[IF_OPER_UP])
        .attr(IFLA_LINKMODE, &[0])
        .attr(IFLA_MTU, &1500u32.to_ne_bytes())
        .attr(IFLA_ADDRESS, &[0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac])
        .attr(IFLA_BROADCAST, &[0xff; 6])
        .attr(IFLA_AF_SPEC | NLA_F_NESTED, &af_inet.0);
    let mut out = Raw::msg(RTM_NEWLINK, NLM_F_MULTI, 1, 4242, body).0;
    out.extend(Raw::msg(NLMSG_DONE, NLM_F_MULTI, 1, 4242, Raw::default().u32(0)).0);
    out
}

#[test]
fn test_deconstruct_newlink() {
    let bytes = kernel_newlink();
    let msgs: Vec<_> = messages(&bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].header.pid(), 4242);
    let want = LinkInfo {
        index: 7,
        flags: 0x11043,
        name: "vb".try_into().unwrap(),
        mac: Some([0x1e, 0x41, 0xbf, 0xf1, 0x62, 0xac]),
        operstate: Some(IF_OPER_UP),
        mtu: Some(1500),
    };
    assert_eq!(msgs[0].decode(), Ok(Decoded::NewLink(want)));
    assert_eq!(msgs[1].decode(), Ok(Decoded::Done));
    // The nested attribute is reachable, with its flag bit stripped.
    let spec = msgs[0].attrs_after(16).find_map(|a| a.ok().filter(|a| a.0 == IFLA_AF_SPEC));
    let inner: Vec<_> = attrs(spec.unwrap().1).collect();
    assert_eq!(inner.len(), 1);
    assert_eq!(inner[0].map(|a| a.0), Ok(1));
    assert_eq!(AddrInfo::parse(&msgs[0]), Err(NlError::WrongType(RTM_NEWLINK)));
}

/// A DELLINK of a tunnel: no name, a 4-byte hardware address.
#[test]
fn test_deconstruct_dellink() {
    let body = Raw::default().bytes(&[0; 4]).u32(9).u32(0).u32(0).attr(IFLA_ADDRESS, &[1, 2, 3, 4]);
    let bytes = Raw::msg(RTM_DELLINK, 0, 0, 0, body).0;
    let Ok(Decoded::DelLink(link)) = only_msg(&bytes).decode() else { panic!() };
    assert_eq!((link.index, link.name.as_str(), link.mac), (9, "", None));
    let body = Raw::default().bytes(&[0; 16]).attr(IFLA_OPERSTATE, &[1, 2]);
    let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
    assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_OPERSTATE)));
    let body = Raw::default().bytes(&[0; 16]).attr(IFLA_IFNAME, b"0123456789abcdefg\0");
    let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
    assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_IFNAME)));
    let body = Raw::default().bytes(&[0; 16]).attr(IFLA_IFNAME, &[0xff, 0]);
    let bytes = Raw::msg(RTM_NEWLINK, 0, 0, 0, body).0;
    assert_eq!(only_msg(&bytes).decode(), Err(NlError::BadAttr(IFLA_IFNAME)));
}

/// RTM_NEWADDR events as the kernel sends them: IPv4 with IFA_ADDRESS,
/// IFA_LOCAL, IFA_BROADCAST, IFA_LABEL, IFA_FLAGS and IFA_CACHEINFO, and
/// an IPv6 link-local with IFA_ADDRESS only, in one buffer.
fn kernel_newaddrs() -> Vec<u8> {
    let cacheinfo = [0xffu8; 16];
    let v4 = Raw::default()
        .bytes(&[AF_INET, 24, IFA_F_PERMANENT as u8, RT_SCOPE_UNIVERSE])
        .u32(2)
        .attr(IFA_ADDRESS, &[10, 200, 0, 2])
        .attr(IFA_LOCAL, &[10, 200, 0, 2])
        .attr(IFA_BROADCAST, &[10, 200, 0, 255])
        .attr(IFA_LABEL, b"vb\0")
        .attr(IFA_FLAGS, &IFA_F_PERMANENT.to_ne_bytes())
        .attr(IFA_CACHEINFO, &cacheinfo);
    let ll: Ipv6Addr = "fe80::1c41:bfff:fef1:62ac".parse().unwrap();
    let v6 = Raw::default()
        .bytes(&[AF_INET6, 64, IFA_F_PERMANENT as u8, RT_SCOPE_LINK])
        .u32(2)
        .attr(IFA_ADDRESS, &ll.octets())
        .attr(IFA_CACHEINFO, &cacheinfo)
        .attr(IFA_FLAGS, &(IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE).to_ne_bytes());
    let mut out = Raw::msg(RTM_NEWADDR, 0, 0, 0, v4).0;
    out.extend(Raw::msg(RTM_NEWADDR, 0, 0, 0, v6).0);
    out
}

#[test]
fn test_deconstruct_newaddr() {
    let bytes = kernel_newaddrs();
    let got: Vec<_> = messages(&bytes).map(|m| m.and_then(|m| m.decode())).collect();
    let v4 = AddrInfo {
        index: 2,
        family: AF_INET,
        prefixlen: 24,
        flags: IFA_F_PERMANENT,
        scope: RT_SCOPE_UNIVERSE,
        addr: IpAddr::V4(Ipv4Addr::new(10, 200, 0, 2)),
        label: Some("vb".try_into().unwrap()),
    };
    let v6 = AddrInfo {
        index: 2,
        family: AF_INET6,
        prefixlen: 64,
        flags: IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE,
        scope: RT_SCOPE_LINK,
        addr: "fe80::1c41:bfff:fef1:62ac".parse().unwrap(),
        label: None,
    };
    assert_eq!(got, [Ok(Decoded::NewAddr(v4)), Ok(Decoded::NewAddr(v6))]);
}

#[test]
fn test_addr_decode_errors() {
    let hdr = |family: u8| Raw::default().bytes(&[family, 32, 0, 0]).u32(1);
    let one = |body: Raw| Raw::msg(RTM_NEWADDR, 0, 0, 0, body).0;
    let b = one(hdr(AF_INET));
    assert_eq!(only_msg(&b).decode(), Err(NlError::MissingAttr(IFA_ADDRESS)));
    let b = one(hdr(AF_INET).attr(IFA_LOCAL, &[1, 2, 3]));
    assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_LOCAL)));
    let b = one(hdr(AF_INET6).attr(IFA_ADDRESS, &[1, 2, 3, 4]));
    assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_ADDRESS)));
    let b = one(hdr(17).attr(IFA_ADDRESS, &[1, 2, 3, 4]));
    assert_eq!(only_msg(&b).decode(), Err(NlError::Unsupported));
    let b = one(hdr(AF_INET).attr(IFA_ADDRESS, &[1, 2, 3, 4]).attr(IFA_FLAGS, &[1]));
    assert_eq!(only_msg(&b).decode(), Err(NlError::BadAttr(IFA_FLAGS)));
    let b = one(Raw::default().bytes(&[AF_INET, 32, 0]));
    assert_eq!(only_msg(&b).decode(), Err(NlError::Truncated));
    // IFA_LOCAL wins over IFA_ADDRESS (the peer on point-to-point).
    let b = one(hdr(AF_INET).attr(IFA_ADDRESS, &[1, 1, 1, 1]).attr(IFA_LOCAL, &[2, 2, 2, 2]));
    let Ok(Decoded::NewAddr(info)) = only_msg(&b).decode() else { panic!() };
    assert_eq!(info.addr, IpAddr::V4(Ipv4Addr::new(2, 2, 2, 2)));
}

/// The EEXIST answer to a repeated RTM_NEWADDR, and a plain ack.
#[test]
fn test_deconstruct_ack() {
    let request = NlMsgHdr::new(40, RTM_NEWADDR, 0x605, 77, 0);
    let body = Raw::default().bytes(bytemuck::bytes_of(&NlMsgErr::new(-17, request)));
    let bytes = Raw::msg(NLMSG_ERROR, NLM_F_CAPPED, 77, 0, body).0;
    assert_eq!(bytes.len(), 36);
    let ack = Ack { errno: -17, seq: 77 };
    assert_eq!(only_msg(&bytes).decode(), Ok(Decoded::Ack(ack)));
    assert!(!ack.is_ok());
    let bytes = Raw::msg(NLMSG_ERROR, 0, 78, 0, Raw::default().u32(0)).0;
    let ack = Ack::parse(&only_msg(&bytes)).unwrap();
    assert_eq!(ack, Ack { errno: 0, seq: 78 });
    assert!(ack.is_ok());
    let bytes = Raw::msg(NLMSG_ERROR, 0, 78, 0, Raw::default().u16(0)).0;
    assert_eq!(Ack::parse(&only_msg(&bytes)), Err(NlError::Truncated));
    let bytes = Raw::msg(NLMSG_OVERRUN, 0, 0, 0, Raw::default()).0;
    assert_eq!(only_msg(&bytes).decode(), Ok(Decoded::Overrun));
    assert_eq!(Ack::parse(&only_msg(&bytes)), Err(NlError::WrongType(NLMSG_OVERRUN)));
}

#[test]
fn test_message_iterator_errors() {
    assert_eq!(messages(&[]).count(), 0);
    let bytes = kernel_newlink();
    // Every prefix: the complete messages, then at most one error.
    for n in 0..bytes.len() {
        let got: Vec<_> = messages(&bytes[..n]).collect();
        let errs = got.iter().filter(|r| r.is_err()).count();
        assert!(errs <= 1);
        if let Some(pos) = got.iter().position(|r| r.is_err()) {
            assert_eq!(pos, got.len() - 1);
            assert_eq!(got[pos], Err(NlError::Truncated));
        }
        for m in got.into_iter().flatten() {
            let _ = m.decode();
        }
    }
    // nlmsg_len below the header size cannot advance: one error.
    let mut bad = bytes.clone();
    bad[..4].copy_from_slice(&15u32.to_ne_bytes());
    assert_eq!(messages(&bad).collect::<Vec<_>>(), [Err(NlError::BadLength)]);
    // The final message may omit its padding.
    let m = Raw::msg(NLMSG_NOOP, 0, 0, 0, Raw::default().u8(1)).0;
    assert_eq!(m.len(), 17);
    assert_eq!(messages(&m).count(), 1);
    assert_eq!(only_msg(&m).payload, &[1]);
}

#[test]
fn test_attr_iterator_errors() {
    assert_eq!(attrs(&[]).count(), 0);
    let good = Raw::default().attr(1, &[1, 2, 3]).attr(2, &[4]).0;
    let got: Vec<_> = attrs(&good).collect();
    assert_eq!(got, [Ok((1, &[1u8, 2, 3][..])), Ok((2, &[4u8][..]))]);
    let got: Vec<_> = attrs(&good[..10]).collect();
    assert_eq!(got, [Ok((1, &[1u8, 2, 3][..])), Err(NlError::Truncated)]);
    let got: Vec<_> = attrs(&good[..2]).collect();
    assert_eq!(got, [Err(NlError::Truncated)]);
    let short = Raw::default().u16(3).u16(1).u16(0).0;
    let got: Vec<_> = attrs(&short).collect();
    assert_eq!(got, [Err(NlError::BadLength)]);
    let long = Raw::default().u16(9).u16(1).u32(0).0;
    assert_eq!(attrs(&long).collect::<Vec<_>>(), [Err(NlError::Truncated)]);
    let net = Raw::default().attr(5 | NLA_F_NET_BYTEORDER, &[]).0;
    assert_eq!(attrs(&net).collect::<Vec<_>>(), [Ok((5, &[][..]))]);
}

/// Pseudo-random garbage, and the real messages with bytes overwritten,
/// go through every decoder without panicking.
#[test]
fn test_garbage_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let walk = |buf: &[u8]| {
        for m in messages(buf).flatten() {
            let _ = m.decode();
            for h in [0, 8, 16] {
                for a in m.attrs_after(h).flatten() {
                    let _ = attrs(a.1).count();
                }
            }
        }
    };
    let mut samples = vec![kernel_newlink(), kernel_newaddrs()];
    samples.push(Raw::msg(NLMSG_ERROR, 0, 1, 0, Raw::default().u32(0)).0);
    for _ in 0..2000 {
        let len = (next() % 200) as usize;
        let v: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        walk(&v);
        for s in &samples {
            let mut s = s.clone();
            for _ in 0..3 {
                let i = (next() as usize) % s.len();
                s[i] = next() as u8;
            }
            walk(&s);
        }
    }
}

fn route(dst: IpAddr, len: u8) -> RouteSpec {
    RouteSpec {
        dst,
        dst_len: len,
        src: None,
        gateway: None,
        oif: None,
        table: 1000,
        metric: Some(5),
        scope: 0,
        protocol: RTPROT_KEEPALIVED,
        kind: RTN_BLACKHOLE,
    }
}

#[test]
fn route_request_layout() {
    assert_eq!(size_of::<RtMsg>(), 12);
    assert_eq!(size_of::<FibRuleHdr>(), 12);
    let mut buf = [0u8; 128];
    let msg = route_request(&mut buf, true, 9, &route(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 0)), 16)).unwrap();
    let m = only_msg(msg);
    assert_eq!((m.kind(), m.seq()), (RTM_NEWROUTE, 9));
    assert_eq!(m.flags(), NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    // family, dst_len, src_len, tos, table (0: over 255, in RTA_TABLE), protocol, scope, type
    assert_eq!(&m.payload[..8], &[AF_INET, 16, 0, 0, 0, 18, 0, RTN_BLACKHOLE]);
    let attrs: Vec<(u16, Vec<u8>)> = m.attrs_after(12).map(|a| a.map(|(k, p)| (k, p.to_vec())).unwrap()).collect();
    assert_eq!(
        attrs,
        [
            (RTA_DST, vec![10, 1, 0, 0]),
            (RTA_PRIORITY, 5u32.to_ne_bytes().to_vec()),
            (RTA_TABLE, 1000u32.to_ne_bytes().to_vec())
        ]
    );
}

#[test]
fn route_and_rule_requests_refuse_bad_arguments() {
    let mut buf = [0u8; 128];
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let mut r = route(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 33);
    assert_eq!(route_request(&mut buf, true, 1, &r), Err(NlError::Invalid));
    r.dst_len = 0;
    r.gateway = Some(v6);
    assert_eq!(route_request(&mut buf, false, 1, &r), Err(NlError::Invalid));
    let rule = RuleSpec {
        family: AF_INET,
        from: Some((v6, 64)),
        to: None,
        table: 7,
        action: FR_ACT_TO_TBL,
        priority: 5,
        invert: false,
        iif: Some("a-name-of-16-ch"),
        oif: None,
        fwmark: None,
        fwmask: None,
        protocol: 0,
    };
    assert_eq!(rule_request(&mut buf, true, 1, &rule), Err(NlError::Invalid));
    let rule = RuleSpec { from: None, iif: Some("sixteen-chars-xx"), ..rule };
    assert_eq!(rule_request(&mut buf, true, 1, &rule), Err(NlError::Invalid));
    let rule = RuleSpec { iif: Some("eth0"), ..rule };
    let m = only_msg(rule_request(&mut buf, true, 1, &rule).unwrap());
    // No protocol given: no FRA_PROTOCOL.
    assert!(m.attrs_after(12).all(|a| a.is_ok_and(|(k, _)| k != FRA_PROTOCOL)));
}
