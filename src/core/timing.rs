//! VRRP timer arithmetic (RFC 3768 §6.1, RFC 9568 §6.1), in microseconds.
//!
//! keepalived 2.2.7 computes the same values to the microsecond
//! (keepalived-reference §2.2): a v2 skew ignores the advert interval, a v3
//! skew scales with Master_Adver_Interval. Multiplying before dividing keeps
//! the sub-centisecond part that a divide-first formula would drop.

use crate::time::Duration;
use crate::wire::vrrp::Version;

/// Skew_Time for `priority` (the *effective* priority).
///
/// - v2: (256 − priority) / 256 s.
/// - v3: (256 − priority) × Master_Adver_Interval / 256.
pub fn skew(version: Version, priority: u8, master_adver_int: Duration) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        Version::V2 => Duration::from_micros(weight * 1_000_000 / 256),
        Version::V3 => Duration::from_micros(weight.saturating_mul(master_adver_int.as_micros()) / 256),
    }
}

/// Master_Down_Interval = `down_adverts` × Master_Adver_Interval + Skew_Time.
pub fn master_down(version: Version, priority: u8, master_adver_int: Duration, down_adverts: u8) -> Duration {
    master_adver_int.saturating_mul(u64::from(down_adverts)) + skew(version, priority, master_adver_int)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Centis, Secs};

    fn cs(n: u16) -> Duration {
        Centis::new(n).map(Centis::to_duration).unwrap_or(Duration::MAX)
    }

    /// (priority, interval, skew µs, master_down µs) for v3.
    const V3_TABLE: &[(u8, u16, u64, u64)] = &[
        // 1 cs = 10 ms: skew = (256-p) * 10_000 / 256
        (1, 1, 9_960, 39_960),
        (100, 1, 6_093, 36_093),
        (254, 1, 78, 30_078),
        (255, 1, 39, 30_039),
        // 100 cs = 1 s
        (1, 100, 996_093, 3_996_093),
        (100, 100, 609_375, 3_609_375),
        (254, 100, 7_812, 3_007_812),
        (255, 100, 3_906, 3_003_906),
        // 4095 cs = 40.95 s
        (1, 4095, 40_790_039, 163_640_039),
        (100, 4095, 24_953_906, 147_803_906),
        (254, 4095, 319_921, 123_169_921),
        (255, 4095, 159_960, 123_009_960),
    ];

    #[test]
    fn v3_skew_and_master_down() {
        for &(prio, interval, skew_us, down_us) in V3_TABLE {
            let i = cs(interval);
            assert_eq!(skew(Version::V3, prio, i).as_micros(), skew_us, "skew p{prio} {interval}cs");
            assert_eq!(master_down(Version::V3, prio, i, 3).as_micros(), down_us, "down p{prio} {interval}cs");
        }
    }

    /// v2 skew does not depend on the interval: (256-p)/256 s.
    const V2_TABLE: &[(u8, u8, u64, u64)] = &[
        (1, 1, 996_093, 3_996_093),
        (100, 1, 609_375, 3_609_375),
        (254, 1, 7_812, 3_007_812),
        (255, 1, 3_906, 3_003_906),
        (1, 255, 996_093, 765_996_093),
        (100, 255, 609_375, 765_609_375),
        (254, 255, 7_812, 765_007_812),
        (255, 255, 3_906, 765_003_906),
    ];

    #[test]
    fn v2_skew_and_master_down() {
        for &(prio, secs, skew_us, down_us) in V2_TABLE {
            let i = Secs::new(secs).to_duration();
            assert_eq!(skew(Version::V2, prio, i).as_micros(), skew_us, "skew p{prio} {secs}s");
            assert_eq!(master_down(Version::V2, prio, i, 3).as_micros(), down_us, "down p{prio} {secs}s");
        }
    }

    #[test]
    fn measured_keepalived_values() {
        // keepalived-reference §2.2: v3 0.5 s prio 100 start-up to MASTER 1.805 s
        // expected; prio-200 takeover 0.109 s after a priority-0 advert.
        assert_eq!(master_down(Version::V3, 100, cs(50), 3).as_micros(), 1_804_687);
        assert_eq!(skew(Version::V3, 200, cs(50)).as_micros(), 109_375);
        // down_timer_adverts is honoured.
        assert_eq!(master_down(Version::V3, 100, cs(10), 30).as_micros(), 3_060_937);
    }
}
