//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that
//! VRRPv3 and ICMPv6 fold into it.
//!
//! A message is usually checksummed as several slices (pseudo-header, header,
//! address list, ...), so [`internet_checksum`] takes a list of parts and
//! treats them as one concatenated byte string: a part of odd length leaves
//! its last byte waiting for the first byte of the next part, exactly as if
//! the parts had been copied into one buffer.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Running ones-complement sum over a byte string fed in pieces.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accumulator {
    sum: u64,
    /// High byte of a 16-bit word whose low byte is in the next part.
    pending: Option<u8>,
}

impl Accumulator {
    pub const fn new() -> Accumulator {
        Accumulator { sum: 0, pending: None }
    }

    pub fn add(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        if let Some(hi) = self.pending {
            let Some((&lo, tail)) = rest.split_first() else {
                return;
            };
            self.sum += u64::from(u16::from_be_bytes([hi, lo]));
            self.pending = None;
            rest = tail;
        }
        // Folding after every 64 KiB keeps the u64 far from overflow whatever
        // the input length (each block adds at most 2^31).
        for block in rest.chunks(1 << 16) {
            let mut words = block.chunks_exact(2);
            for w in &mut words {
                if let [a, b] = *w {
                    self.sum += u64::from(u16::from_be_bytes([a, b]));
                }
            }
            if let [last] = *words.remainder() {
                self.pending = Some(last);
            }
            self.sum = fold(self.sum);
        }
    }

    /// The value to store in a checksum field (the complement of the sum).
    /// Over data that already contains a correct checksum it returns 0.
    pub fn finish(self) -> u16 {
        let mut sum = self.sum;
        if let Some(hi) = self.pending {
            // An odd total length is padded with one zero byte (RFC 1071).
            sum += u64::from(u16::from_be_bytes([hi, 0]));
        }
        !(fold(sum) as u16)
    }
}

fn fold(mut sum: u64) -> u64 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// Internet checksum of the concatenation of `parts`.
///
/// With the checksum field zeroed this is the value to write into it; over
/// a message that includes a valid checksum the result is 0.
pub fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut acc = Accumulator::new();
    for part in parts {
        acc.add(part);
    }
    acc.finish()
}

/// Pseudo-header of RFC 768 (IPv4) or RFC 8200 §8.1 (IPv6), as bytes to
/// prepend to the upper-layer message when summing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudoHeader {
    V4([u8; 12]),
    V6([u8; 40]),
}

impl PseudoHeader {
    /// `None` when `src` and `dst` are of different families, or when `len`
    /// does not fit the 16-bit IPv4 field.
    pub fn new(src: IpAddr, dst: IpAddr, protocol: u8, len: usize) -> Option<PseudoHeader> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let len = u16::try_from(len).ok()?;
                Some(PseudoHeader::V4(pseudo_header_v4(s, d, protocol, len)))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let len = u32::try_from(len).ok()?;
                Some(PseudoHeader::V6(pseudo_header_v6(s, d, protocol, len)))
            }
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            PseudoHeader::V4(b) => b,
            PseudoHeader::V6(b) => b,
        }
    }
}

/// Source, destination, zero, protocol, upper-layer length.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> [u8; 12] {
    let mut b = [0u8; 12];
    let (s, rest) = b.split_at_mut(4);
    let (d, rest) = rest.split_at_mut(4);
    s.copy_from_slice(&src.octets());
    d.copy_from_slice(&dst.octets());
    rest.copy_from_slice(&[0, protocol, (len >> 8) as u8, len as u8]);
    b
}

/// Source, destination, 32-bit upper-layer length, three zero bytes, next
/// header.
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> [u8; 40] {
    let mut b = [0u8; 40];
    let (s, rest) = b.split_at_mut(16);
    let (d, rest) = rest.split_at_mut(16);
    let (l, rest) = rest.split_at_mut(4);
    s.copy_from_slice(&src.octets());
    d.copy_from_slice(&dst.octets());
    l.copy_from_slice(&len.to_be_bytes());
    rest.copy_from_slice(&[0, 0, 0, next_header]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 1071 §3: words 0001 f203 f4f5 f6f7 sum to
    /// ddf2 (after the end-around carry), so the checksum is 220d.
    #[test]
    fn test_rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&[&data]), 0x220d);
        let with_sum = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x22, 0x0d];
        assert_eq!(internet_checksum(&[&with_sum]), 0);
    }

    #[test]
    fn test_odd_part_boundaries() {
        let data: [u8; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xff];
        let whole = internet_checksum(&[&data]);
        for i in 0..=data.len() {
            for j in i..=data.len() {
                let (a, rest) = data.split_at(i);
                let (b, c) = rest.split_at(j - i);
                assert_eq!(internet_checksum(&[a, b, c]), whole, "split {i} {j}");
                assert_eq!(internet_checksum(&[a, &[], b, &[], c]), whole);
            }
        }
        // Odd total length pads with a zero byte at the end, not per part.
        assert_eq!(internet_checksum(&[&[0x12]]), !0x1200);
        assert_eq!(internet_checksum(&[&[0x12], &[0x34]]), !0x1234);
    }

    #[test]
    fn test_empty_and_carry() {
        assert_eq!(internet_checksum(&[]), 0xffff);
        // 0xffff + 0xffff + 0x0002 = 0x20000 → folds to 0x0002.
        assert_eq!(internet_checksum(&[&[0xff, 0xff, 0xff, 0xff, 0x00, 0x02]]), !0x0002);
        let big = [0xffu8; 200_001];
        // 100000 words of 0xffff fold to 0xffff; the last 0xff00 adds
        // 0xff00 + 0xffff = 0x1feff → 0xff00.
        assert_eq!(internet_checksum(&[&big]), !0xff00);
    }

    #[test]
    fn test_pseudo_headers() {
        let v4 = pseudo_header_v4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 18), 112, 0x0102);
        assert_eq!(v4, [10, 0, 0, 1, 224, 0, 0, 18, 0, 112, 1, 2]);
        let s: Ipv6Addr = "fe80::1".parse().unwrap();
        let d: Ipv6Addr = "ff02::12".parse().unwrap();
        let v6 = pseudo_header_v6(s, d, 112, 0x0001_0203);
        assert_eq!(&v6[..16], &s.octets());
        assert_eq!(&v6[16..32], &d.octets());
        assert_eq!(&v6[32..], &[0, 1, 2, 3, 0, 0, 0, 112]);
        let ph = PseudoHeader::new(IpAddr::V6(s), IpAddr::V6(d), 112, 0x0001_0203);
        assert_eq!(ph.as_ref().map(PseudoHeader::as_bytes), Some(&v6[..]));
        assert_eq!(PseudoHeader::new(IpAddr::V6(s), Ipv4Addr::LOCALHOST.into(), 112, 8), None);
        let l = Ipv4Addr::LOCALHOST.into();
        assert_eq!(PseudoHeader::new(l, l, 112, 65_536), None);
    }
}
