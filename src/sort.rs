//! Two small sorts for the whole crate. std's adaptive sorts cost about
//! 1.5 KB of code for every element type and comparator they are used
//! with; nine such call sites were 12 KB of a static binary whose budget
//! is 1 MiB. These are a few hundred bytes each, O(n log n) (heap sort)
//! or O(n) on nearly sorted input (insertion sort), which is what every
//! caller here has: interface tables and demultiplexing routes built once,
//! file names of a directory, diagnostics mostly emitted in file order.

/// Sorts `v` so that `less` holds between neighbours where it can: a heap
/// sort, in place, not stable.
pub fn heap_sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n, &mut less);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, &mut less);
    }
}

/// `heap_sort_by` with `Ord`.
pub fn heap_sort<T: Ord>(v: &mut [T]) {
    heap_sort_by(v, |a, b| a < b);
}

fn sift_down<T>(v: &mut [T], mut root: usize, end: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[root], &v[child]) {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

/// A stable sort by key: insertion sort, linear on input that is already
/// nearly in order.
pub fn insertion_sort_by_key<T, K: PartialOrd>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    for i in 1..v.len() {
        let k = key(&v[i]);
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > k {
            j -= 1;
        }
        v[j..=i].rotate_right(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_sort_sorts_every_shape() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in 0..200 {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 50) as u32
                })
                .collect();
            let mut want = v.clone();
            want.sort();
            heap_sort(&mut v);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn insertion_sort_is_stable() {
        let mut v = vec![(2, 'a'), (1, 'b'), (2, 'c'), (0, 'd'), (1, 'e')];
        insertion_sort_by_key(&mut v, |p| p.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (2, 'a'), (2, 'c')]);
    }
}
