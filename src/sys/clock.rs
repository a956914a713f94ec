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

/// The local time zone's offset from UTC at `unix` (seconds since the
/// epoch), in seconds east; 0 when the C library cannot tell. For time
/// stamps printed in local time, as keepalived prints them.
pub fn utc_offset(unix: u64) -> i32 {
    // time_t by inference from localtime_r: naming it is deprecated on musl.
    let Ok(t) = TryFrom::try_from(unix) else { return 0 };
    let mut tm = core::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `t` and `tm` are live locals; localtime_r writes only into
    // `tm` (zero-initialised, so it is a valid `tm` whatever happens) and
    // returns null on failure, which is checked.
    let ok = unsafe { !libc::localtime_r(&t, tm.as_mut_ptr()).is_null() };
    if !ok {
        return 0;
    }
    // SAFETY: zero-initialised above and filled by localtime_r.
    let tm = unsafe { tm.assume_init() };
    i32::try_from(tm.tm_gmtoff).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_offset_is_within_a_day() {
        let off = super::utc_offset(1_796_460_402);
        assert!(off.abs() <= 14 * 3600, "{off}");
    }
}
