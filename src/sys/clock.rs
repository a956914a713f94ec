//! CLOCK_MONOTONIC as the engine's `Instant`. The daemon's timer is a
//! timerfd on the same clock, so deadlines need no conversion.

use crate::time::Instant;

/// Microseconds of CLOCK_MONOTONIC.
pub fn now() -> Instant {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let us = (t.tv_sec as u64).saturating_mul(1_000_000).saturating_add(t.tv_nsec as u64 / 1_000);
    Instant::from_micros(us)
}
