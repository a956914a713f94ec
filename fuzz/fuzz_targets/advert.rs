//! VRRP adverts: parse never panics, and whatever parses re-emits to the
//! same value and the same bytes, up to what the format lets a sender vary.
//!
//! Input: one selector byte (bit 0: IPv6), the source and destination
//! addresses (4 + 4 or 16 + 16 bytes), then the VRRP message. `parse`
//! skips checksum verification under `cfg(fuzzing)`, so the fuzzer reaches
//! everything behind it; the checks below use `verify_checksum`, which
//! always computes.

#![no_main]

use core::fmt::Write;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vipd::wire::WireError;
use vipd::wire::checksum::{PseudoHeader, internet_checksum};
use vipd::wire::vrrp::{Addrs, Advert, AdvertBuf, Auth, ChecksumForm, PROTOCOL, Version, peek_vrid, verify_checksum};

fn split(data: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let (&sel, rest) = data.split_first()?;
    if sel & 1 == 0 {
        let (s, rest) = rest.split_first_chunk::<4>()?;
        let (d, rest) = rest.split_first_chunk::<4>()?;
        Some((Ipv4Addr::from(*s).into(), Ipv4Addr::from(*d).into(), rest))
    } else {
        let (s, rest) = rest.split_first_chunk::<16>()?;
        let (d, rest) = rest.split_first_chunk::<16>()?;
        Some((Ipv6Addr::from(*s).into(), Ipv6Addr::from(*d).into(), rest))
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((src, dst, msg)) = split(data) else {
        return;
    };
    assert_eq!(peek_vrid(msg), msg.get(1).copied());
    let input_form = verify_checksum(msg, src, dst);
    let Ok((advert, form)) = Advert::parse(msg, src, dst) else {
        return;
    };
    let mut line = String::new();
    write!(line, "{advert}").unwrap();
    assert!(line.starts_with("VRRPv"));
    if let Some(f) = input_form {
        assert_eq!(f, form, "parse must report the form that verified");
    }

    let mut buf = AdvertBuf::new();
    if advert.auth == Auth::Ah {
        // Recognised to be counted, never sent.
        let r = buf.emit(&advert, src, dst, form.v3_ipv4());
        assert_eq!(r, Err(WireError::InvalidAuthType));
        return;
    }
    let out = buf.emit(&advert, src, dst, form.v3_ipv4()).expect("a parsed advert must emit").to_vec();
    assert_eq!(out.len(), msg.len());
    assert_eq!(out.len(), advert.buffer_len());

    // Same value back.
    let (again, _) = Advert::parse(&out, src, dst).expect("an emitted advert must parse");
    assert_eq!(again, advert);

    // The emitted checksum really verifies, in the form asked for. Pseudo-
    // header first means a no-pseudo-header checksum may also pass as the
    // pseudo-header form when the pseudo-header sums to zero.
    let emitted_form = verify_checksum(&out, src, dst).expect("emitted checksum must verify");
    match (form, emitted_form) {
        (a, b) if a == b => {}
        (ChecksumForm::NoPseudoHeader, ChecksumForm::PseudoHeader) => {
            let ph = PseudoHeader::new(src, dst, PROTOCOL, out.len()).unwrap();
            assert!(matches!(internet_checksum(&[ph.as_bytes()]), 0 | 0xffff));
        }
        (a, b) => panic!("asked for {a:?}, emitted {b:?}"),
    }

    // Same bytes, except what a sender may vary and we normalise: the v3
    // reserved bits (sent as 0) and v2 auth data under auth type 0 (sent as
    // zeros). The checksum follows from the rest.
    let mut expect = msg.to_vec();
    match advert.version {
        Version::V3 => expect[4] &= 0x0f,
        Version::V2 => {
            if advert.auth == Auth::None {
                let n = expect.len();
                expect[n - 8..].fill(0);
            }
        }
    }
    assert_eq!(out[..6], expect[..6]);
    assert_eq!(out[8..], expect[8..]);
    // An input that verified and needed no normalising comes back whole,
    // except that 0xffff and 0x0000 are the same ones-complement checksum
    // (a sum of 0xffff verifies with either); we always write 0x0000.
    if expect == msg && input_form.is_some() {
        let (got, sent) = ([out[6], out[7]], [msg[6], msg[7]]);
        assert!(got == sent || (sent == [0xff, 0xff] && got == [0, 0]), "{sent:02x?} -> {got:02x?}");
    }

    // The address list is a view of the input, not a copy.
    match advert.addrs {
        Addrs::V4(a) => assert_eq!(a.len(), usize::from(msg[3])),
        Addrs::V6(a) => assert_eq!(a.len(), usize::from(msg[3])),
    }
});
