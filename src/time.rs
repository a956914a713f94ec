//! Time and protocol units.
//!
//! Every conversion between wire units (VRRPv2 whole seconds, VRRPv3
//! centiseconds) and internal time happens in this file, and nowhere else.
//! Internal time is microseconds in a `u64`: enough resolution for the 10 ms
//! v3 adverts and the µs-granular `preempt_delay`/`garp_interval` of
//! keepalived, and 584,000 years of range.
//!
//! `core` never reads a clock: the daemon turns `CLOCK_MONOTONIC` into an
//! [`Instant`] and passes it in; the simulator advances a fake one.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A point on the monotonic clock, in microseconds since an arbitrary epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

/// A span of time in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Instant {
        Instant(us)
    }

    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms.saturating_mul(1_000))
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);
    pub const MAX: Duration = Duration(u64::MAX);

    pub const fn from_micros(us: u64) -> Duration {
        Duration(us)
    }

    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms.saturating_mul(1_000))
    }

    pub const fn from_secs(s: u64) -> Duration {
        Duration(s.saturating_mul(1_000_000))
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub const fn saturating_mul(self, n: u64) -> Duration {
        Duration(self.0.saturating_mul(n))
    }

    pub const fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }

    /// Converts to `std::time::Duration` for the daemon's timer.
    pub const fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.0 = self.0.saturating_add(d.0);
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0))
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for Duration {
    /// Seconds with microsecond precision, trailing zeros trimmed: `0.609375s`, `3s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, us) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if us == 0 {
            return write!(f, "{s}s");
        }
        let mut frac = us;
        let mut width = 6;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, "{s}.{frac:0width$}s")
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Duration(self.0), f)
    }
}

/// VRRPv3 "Max Adver Int": 12 bits of centiseconds on the wire (RFC 9568 §5.2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centis(u16);

impl Centis {
    /// Largest value the 12-bit field holds: 40.95 s.
    pub const MAX: Centis = Centis(0x0fff);

    /// `None` when `cs` does not fit the 12-bit field.
    pub const fn new(cs: u16) -> Option<Centis> {
        if cs <= 0x0fff { Some(Centis(cs)) } else { None }
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    pub const fn to_duration(self) -> Duration {
        Duration(self.0 as u64 * 10_000)
    }

    /// Rounds `d` to the nearest centisecond and clamps into 1..=4095; used
    /// when a v3 master advertises its own (µs) interval.
    pub const fn from_duration_clamped(d: Duration) -> Centis {
        let cs = d.0.saturating_add(5_000) / 10_000;
        if cs == 0 {
            Centis(1)
        } else if cs > 0x0fff {
            Centis::MAX
        } else {
            Centis(cs as u16)
        }
    }
}

/// VRRPv2 "Adver Int": whole seconds on the wire (RFC 3768 §5.3.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Secs(u8);

impl Secs {
    pub const fn new(s: u8) -> Secs {
        Secs(s)
    }

    pub const fn get(self) -> u8 {
        self.0
    }

    pub const fn to_duration(self) -> Duration {
        Duration(self.0 as u64 * 1_000_000)
    }

    /// Rounds `d` to whole seconds and clamps into 1..=255.
    pub const fn from_duration_clamped(d: Duration) -> Secs {
        let s = d.0.saturating_add(500_000) / 1_000_000;
        if s == 0 {
            Secs(1)
        } else if s > 255 {
            Secs(255)
        } else {
            Secs(s as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centis_and_secs_convert_in_one_place() {
        assert_eq!(Centis::new(100).map(Centis::to_duration), Some(Duration::from_secs(1)));
        assert_eq!(Centis::new(1).map(Centis::to_duration), Some(Duration::from_millis(10)));
        assert_eq!(Centis::new(4095).map(Centis::to_duration), Some(Duration::from_millis(40_950)));
        assert_eq!(Centis::new(4096), None);
        assert_eq!(Secs::new(255).to_duration(), Duration::from_secs(255));
        assert_eq!(Centis::from_duration_clamped(Duration::from_millis(4)), Centis::new(1).unwrap());
        assert_eq!(Centis::from_duration_clamped(Duration::from_secs(100)), Centis::MAX);
        assert_eq!(Secs::from_duration_clamped(Duration::from_millis(500)).get(), 1);
        assert_eq!(Secs::from_duration_clamped(Duration::from_millis(1499)).get(), 1);
        assert_eq!(Secs::from_duration_clamped(Duration::from_secs(300)).get(), 255);
    }

    #[test]
    fn durations_display_as_seconds() {
        assert_eq!(Duration::from_micros(609_375).to_string(), "0.609375s");
        assert_eq!(Duration::from_secs(3).to_string(), "3s");
        assert_eq!(Duration::from_millis(3_610).to_string(), "3.61s");
        assert_eq!(Duration::from_micros(1).to_string(), "0.000001s");
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Instant::from_micros(5) - Duration::from_micros(10), Instant::ZERO);
        assert_eq!(Instant::from_micros(u64::MAX) + Duration::from_micros(1), Instant::from_micros(u64::MAX));
        assert_eq!(Instant::from_micros(3).saturating_since(Instant::from_micros(9)), Duration::ZERO);
    }
}
