//! Handing pages of a buffer's unused capacity back to the kernel.
//!
//! The effect buffer is sized for the worst wakeup (every instance at
//! once: 2.5 MB for 1,000 instances) and a start or a failover of every
//! instance writes into a good part of it once; those pages would stay
//! resident for the daemon's life. `MADV_DONTNEED` frees them without
//! freeing the allocation: they come back zero-filled, at no cost until
//! touched, and nothing is allocated.

/// Tells the kernel the whole pages inside `len` bytes from `ptr` are not
/// needed. `ptr..ptr + len` must be capacity of a live allocation whose
/// contents do not matter (a `Vec`'s spare capacity): the allocator's own
/// bookkeeping lies outside it, and only pages wholly inside it are given
/// back. A failure only leaves the pages resident.
pub fn discard(ptr: *mut u8, len: usize) {
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(1);
    let start = (ptr as usize).div_ceil(page) * page;
    let end = (ptr as usize).saturating_add(len) / page * page;
    if end <= start {
        return;
    }
    // SAFETY: [start, end) lies within the caller's spare capacity (see
    // above), which holds no initialized value; zero-filled pages there
    // are as good as the old contents.
    unsafe {
        libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn discarded_capacity_is_usable_again() {
        let mut v: Vec<u64> = Vec::with_capacity(1 << 20);
        v.extend((0..1u64 << 20).map(|x| x ^ 0x5a5a));
        v.clear();
        let spare = v.spare_capacity_mut();
        super::discard(spare.as_mut_ptr().cast(), spare.len() * 8);
        v.extend(0..1000u64);
        assert_eq!(v.iter().sum::<u64>(), 999 * 1000 / 2);
        // A range smaller than a page, and an empty one, are left alone.
        let mut w = vec![1u8; 100];
        super::discard(w.as_mut_ptr(), 100);
        super::discard(w.as_mut_ptr(), 0);
        assert!(w.iter().all(|&b| b == 1));
    }
}
