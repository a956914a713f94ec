//! The instances' next deadlines in an indexed binary min-heap, so that
//! the earliest one is known in O(1) and one instance's deadline moves in
//! O(log n). Without it every wakeup scanned every instance (1,000
//! instances at 100 ms: a third of a core on a backup). Storage is sized
//! at build time for every instance; nothing allocates afterwards.
//!
//! Ties are broken by instance index so the order is deterministic.

use crate::time::Instant;

/// `pos` of an instance that has no deadline.
const ABSENT: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(super) struct Deadlines {
    /// (deadline, instance index), a binary min-heap.
    heap: Vec<(Instant, u16)>,
    /// Where each instance sits in `heap`, or `ABSENT`.
    pos: Vec<u32>,
}

impl Deadlines {
    /// Room for instances `0..n`; the only allocation.
    pub(super) fn with_capacity(n: usize) -> Deadlines {
        Deadlines { heap: Vec::with_capacity(n), pos: vec![ABSENT; n] }
    }

    /// The earliest deadline and its instance.
    pub(super) fn peek(&self) -> Option<(Instant, usize)> {
        self.heap.first().map(|&(t, i)| (t, usize::from(i)))
    }

    /// Sets (or with `None` removes) instance `i`'s deadline. An index
    /// beyond the capacity is ignored (it cannot happen: instances are
    /// fixed at build).
    pub(super) fn set(&mut self, i: usize, t: Option<Instant>) {
        let Some(&p) = self.pos.get(i) else { return };
        match (p, t) {
            (ABSENT, None) => {}
            (ABSENT, Some(t)) => {
                let at = self.heap.len();
                self.heap.push((t, i as u16));
                self.pos[i] = at as u32;
                self.up(at);
            }
            (p, None) => {
                let p = p as usize;
                let last = self.heap.len() - 1;
                self.swap(p, last);
                self.heap.pop();
                self.pos[i] = ABSENT;
                if p < self.heap.len() {
                    self.down(p);
                    self.up(p);
                }
            }
            (p, Some(t)) => {
                let p = p as usize;
                let old = self.heap[p].0;
                self.heap[p].0 = t;
                if t < old {
                    self.up(p);
                } else if t > old {
                    self.down(p);
                }
            }
        }
    }

    fn less(&self, a: usize, b: usize) -> bool {
        self.heap[a] < self.heap[b]
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[usize::from(self.heap[a].1)] = a as u32;
        self.pos[usize::from(self.heap[b].1)] = b as u32;
    }

    fn up(&mut self, mut k: usize) {
        while k > 0 {
            let parent = (k - 1) / 2;
            if !self.less(k, parent) {
                break;
            }
            self.swap(k, parent);
            k = parent;
        }
    }

    fn down(&mut self, mut k: usize) {
        loop {
            let (l, r) = (2 * k + 1, 2 * k + 2);
            let mut m = k;
            if l < self.heap.len() && self.less(l, m) {
                m = l;
            }
            if r < self.heap.len() && self.less(r, m) {
                m = r;
            }
            if m == k {
                break;
            }
            self.swap(k, m);
            k = m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn ms(n: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(n)
    }

    /// Pops everything in order (by removing the minimum each time).
    fn drain(d: &mut Deadlines) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        while let Some((t, i)) = d.peek() {
            out.push((t.as_micros() / 1000, i));
            d.set(i, None);
        }
        out
    }

    #[test]
    fn earliest_first_ties_by_index() {
        let mut d = Deadlines::with_capacity(5);
        for (i, t) in [(0, 30), (1, 10), (2, 20), (3, 10), (4, 40)] {
            d.set(i, Some(ms(t)));
        }
        assert_eq!(drain(&mut d), [(10, 1), (10, 3), (20, 2), (30, 0), (40, 4)]);
        assert_eq!(d.peek(), None);
    }

    #[test]
    fn moves_earlier_later_and_removal() {
        let mut d = Deadlines::with_capacity(6);
        for i in 0..6 {
            d.set(i, Some(ms(100 * (i as u64 + 1))));
        }
        d.set(5, Some(ms(50))); // earlier: becomes the minimum
        assert_eq!(d.peek(), Some((ms(50), 5)));
        d.set(5, Some(ms(1000))); // later: sinks
        assert_eq!(d.peek(), Some((ms(100), 0)));
        d.set(0, None); // the minimum removed
        d.set(3, None); // one in the middle removed
        d.set(3, None); // twice is harmless
        d.set(9, Some(ms(1))); // beyond the capacity: ignored
        d.set(2, Some(ms(300))); // unchanged
        assert_eq!(drain(&mut d), [(200, 1), (300, 2), (500, 4), (1000, 5)]);
    }

    #[test]
    fn matches_a_scan_under_random_updates() {
        // A small LCG: deterministic, no dependency.
        let mut seed = 0x2545_f491_u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        let n = 50;
        let mut d = Deadlines::with_capacity(n);
        let mut model: Vec<Option<Instant>> = vec![None; n];
        for _ in 0..5000 {
            let i = (next() % n as u64) as usize;
            let t = if next() % 5 == 0 { None } else { Some(ms(next() % 1000)) };
            d.set(i, t);
            model[i] = t;
            let want = model.iter().enumerate().filter_map(|(i, t)| t.map(|t| (t, i))).min();
            assert_eq!(d.peek(), want);
        }
    }
}
