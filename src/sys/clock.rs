//! CLOCK_MONOTONIC as the engine's `Instant`. The daemon's timer is a
//! timerfd on the same clock, so deadlines need no conversion.

use crate::time::Instant;

/// Microseconds of CLOCK_MONOTONIC.
///
/// Read through libc rather than rustix: rustix parses the vDSO itself,
/// which fails under valgrind (used by `scripts/alloc-check`), while libc's
/// call works everywhere.
pub fn now() -> Instant {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; CLOCK_MONOTONIC always exists on Linux, so it cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let us = (ts.tv_sec as u64).saturating_mul(1_000_000).saturating_add(ts.tv_nsec as u64 / 1_000);
    Instant::from_micros(us)
}
