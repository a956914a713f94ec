//! rtnetlink: any receive buffer walks and decodes without panicking, and
//! every address request built from fuzzed fields parses back to them.
//!
//! The whole input is first read as a receive buffer; it is then also read
//! as the fields of one `addr_request`.

#![no_main]

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vipd::wire::netlink::{
    AF_INET, AF_INET6, Decoded, IFA_F_NODAD, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NlError, RTM_DELADDR,
    RTM_NEWADDR, addr_request, attrs, getaddr_dump, getlink_dump, messages,
};

fn walk(buf: &[u8]) {
    let mut errors = 0;
    for msg in messages(buf) {
        let Ok(msg) = msg else {
            errors += 1;
            continue;
        };
        let _ = msg.decode();
        for skip in [0usize, 8, 16] {
            for attr in attrs(msg.payload.get(skip..).unwrap_or(&[])) {
                let Ok((_, payload)) = attr else {
                    break;
                };
                for nested in attrs(payload) {
                    if nested.is_err() {
                        break;
                    }
                }
            }
        }
    }
    assert!(errors <= 1, "the iterator stops after its first error");
}

struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

fn request(data: &[u8]) -> Option<()> {
    let mut f = Fields(data);
    let [sel, prefix, scope, label_len] = f.take::<4>()?;
    let seq = u32::from_le_bytes(f.take()?);
    let ifindex = u32::from_le_bytes(f.take()?);
    let kind = if sel & 1 == 0 { RTM_NEWADDR } else { RTM_DELADDR };
    let addr: IpAddr =
        if sel & 2 == 0 { Ipv4Addr::from(f.take::<4>()?).into() } else { Ipv6Addr::from(f.take::<16>()?).into() };
    let broadcast = if sel & 4 == 0 { None } else { Some(Ipv4Addr::from(f.take::<4>()?)) };
    let nodad = sel & 8 != 0;
    let label = if sel & 16 == 0 {
        None
    } else {
        let n = usize::from(label_len % 20).min(f.0.len());
        Some(core::str::from_utf8(&f.0[..n]).ok()?)
    };

    let mut buf = [0u8; 256];
    let built = addr_request(&mut buf, kind, seq, ifindex, addr, prefix, broadcast, scope, label, nodad);
    let v6 = addr.is_ipv6();
    let label_ok = label.is_none_or(|l| v6 || (l.len() < 16 && !l.contains('\0')));
    let prefix_ok = prefix <= if v6 { 128 } else { 32 };
    let bytes = match built {
        Ok(bytes) => bytes,
        Err(e) => {
            assert_eq!(e, NlError::Invalid);
            assert!(!(label_ok && prefix_ok));
            return Some(());
        }
    };
    assert!(label_ok && prefix_ok);

    let msgs: Vec<_> = messages(bytes).collect();
    assert_eq!(msgs.len(), 1);
    let msg = msgs[0].expect("a built request must parse");
    assert_eq!(msg.seq(), seq);
    assert_eq!(msg.header.len() as usize, bytes.len());
    let want_flags = match kind {
        RTM_NEWADDR => NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        _ => NLM_F_REQUEST | NLM_F_ACK,
    };
    assert_eq!(msg.flags(), want_flags);
    let info = match msg.decode().expect("a built request must decode") {
        Decoded::NewAddr(i) if kind == RTM_NEWADDR => i,
        Decoded::DelAddr(i) if kind == RTM_DELADDR => i,
        other => panic!("decoded as {other:?}"),
    };
    assert_eq!(info.index, ifindex);
    assert_eq!(info.family, if v6 { AF_INET6 } else { AF_INET });
    assert_eq!(info.prefixlen, prefix);
    assert_eq!(info.scope, scope);
    assert_eq!(info.addr, addr);
    assert_eq!(info.flags, if v6 && nodad { IFA_F_NODAD } else { 0 });
    let want_label = if v6 { None } else { label };
    assert_eq!(info.label.as_deref(), want_label);
    Some(())
}

fuzz_target!(|data: &[u8]| {
    walk(data);
    let _ = request(data);
    let mut buf = [0u8; 64];
    let seq = data.first().copied().unwrap_or(0).into();
    let dump = getlink_dump(&mut buf, seq).expect("fits").to_vec();
    assert_eq!(messages(&dump).count(), 1);
    let dump = getaddr_dump(&mut buf, seq, AF_INET6).expect("fits");
    assert_eq!(messages(dump).count(), 1);
});
