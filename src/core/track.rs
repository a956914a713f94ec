//! Trackers and the effective priority they produce
//! (keepalived-reference §2.6).

use crate::config::{TrackerConfig, TrackerKind};

/// A tracker's current verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackStatus {
    /// No result yet (a script that has not finished its first run).
    Unknown,
    Up,
    Down,
}

/// Runtime state of one configured tracker.
#[derive(Clone, Copy, Debug)]
pub struct Tracker {
    pub kind: TrackerKind,
    pub status: TrackStatus,
    /// Consecutive results against the current status (rise/fall counting).
    streak: u32,
    /// `track_file` value.
    pub value: i64,
}

impl Tracker {
    pub fn new(cfg: &TrackerConfig) -> Tracker {
        let status = match cfg.kind {
            TrackerKind::Script { init_fail: true, .. } => TrackStatus::Down,
            TrackerKind::Script { .. } | TrackerKind::Process => TrackStatus::Unknown,
            TrackerKind::File => TrackStatus::Up,
        };
        Tracker { kind: cfg.kind, status, streak: 0, value: 0 }
    }

    /// Consecutive results against the current status: rise/fall progress.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Feeds one script result; returns whether the status changed.
    ///
    /// Up goes Down after `fall` consecutive failures and Down goes Up after
    /// `rise` consecutive successes. The very first result decides at once
    /// ("one success is enough", and a first failure counts as down), so an
    /// unweighted check does not hold an instance in its start-up Fault for
    /// `fall` intervals. `init_fail` starts Down, so it needs `rise` successes.
    ///
    /// A process tracker's verdict arrives already debounced (the daemon
    /// applies `fork_delay`/`terminate_delay`), so it is taken as is.
    pub fn script_result(&mut self, success: bool) -> bool {
        let TrackerKind::Script { rise, fall, .. } = self.kind else {
            let before = self.status;
            if self.kind == TrackerKind::Process {
                self.set(if success { TrackStatus::Up } else { TrackStatus::Down });
            }
            return self.status != before;
        };
        let before = self.status;
        match (self.status, success) {
            (TrackStatus::Unknown, true) => self.set(TrackStatus::Up),
            (TrackStatus::Unknown, false) => self.set(TrackStatus::Down),
            (TrackStatus::Up, true) | (TrackStatus::Down, false) => self.streak = 0,
            (TrackStatus::Up, false) => self.count_towards(TrackStatus::Down, fall),
            (TrackStatus::Down, true) => self.count_towards(TrackStatus::Up, rise),
        }
        self.status != before
    }

    fn count_towards(&mut self, target: TrackStatus, needed: u32) {
        self.streak += 1;
        if self.streak >= needed.max(1) {
            self.set(target);
        }
    }

    fn set(&mut self, status: TrackStatus) {
        self.status = status;
        self.streak = 0;
    }

    /// After a reload, a check script of the same name keeps its verdict,
    /// whatever its new `rise`/`fall`/`init_fail` (counting starts afresh),
    /// as keepalived carries script results by name: changing `fall` must
    /// not make a master let go. A tracked file keeps the value just read
    /// from it (its path may have changed), so nothing is carried.
    pub fn carry_over(&mut self, prev: &Tracker) {
        if let (TrackerKind::Script { .. }, TrackerKind::Script { .. }) = (self.kind, prev.kind) {
            if prev.status != TrackStatus::Unknown {
                self.status = prev.status;
            }
            self.streak = 0;
        }
    }

    /// Sets a `track_file` value; returns whether it changed.
    pub fn file_value(&mut self, value: i64) -> bool {
        let changed = self.value != value;
        self.value = value;
        changed
    }
}

/// What one tracker reference contributes to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contribution {
    /// Adds this much to the priority (may be negative, may be 0).
    Weight(i64),
    /// Forces Fault. `silent` while an unweighted check has not reported
    /// yet: keepalived holds the instance without a FAULT notify then.
    Fault { silent: bool },
}

/// The contribution of an up/down tracker (script or interface) with this
/// weight and `reverse` flag (keepalived.conf(5), track_interface):
///
/// - weight 0: Fault while down; with `reverse`, Fault while up;
/// - weight > 0: added while up; with `reverse`, subtracted while up;
/// - weight < 0: added (so subtracted) while down; with `reverse`, its
///   absolute value is added while down.
///
/// `reverse` keeps the condition and flips the direction of the change; it
/// does not swap up and down. A script that has not reported counts as
/// neither: no weight, and a silent Fault when unweighted.
pub fn updown_contribution(status: TrackStatus, weight: i32, reverse: bool) -> Contribution {
    let up = match status {
        TrackStatus::Unknown if weight == 0 => return Contribution::Fault { silent: true },
        TrackStatus::Unknown => return Contribution::Weight(0),
        TrackStatus::Up => true,
        TrackStatus::Down => false,
    };
    let w = i64::from(weight);
    let sign = if reverse { -1 } else { 1 };
    match (weight, up) {
        (0, _) if up == reverse => Contribution::Fault { silent: false },
        (0, _) => Contribution::Weight(0),
        (w0, true) if w0 > 0 => Contribution::Weight(sign * w),
        (w0, false) if w0 < 0 => Contribution::Weight(sign * w),
        _ => Contribution::Weight(0),
    }
}

/// The contribution of a `track_file` value (keepalived.conf(5), Track
/// files): with weight 0 a non-zero value means Fault (`reverse`: a zero
/// value does); otherwise value × weight, negated by `reverse`, limited to
/// −254..=253, and a result below −253 means Fault.
pub fn file_contribution(value: i64, weight: i32, reverse: bool) -> Contribution {
    if weight == 0 {
        return if (value != 0) != reverse { Contribution::Fault { silent: false } } else { Contribution::Weight(0) };
    }
    let mut w = value.clamp(-254, 254).saturating_mul(i64::from(weight));
    if reverse {
        w = w.saturating_neg();
    }
    let w = w.clamp(-254, 253);
    if w < -253 { Contribution::Fault { silent: false } } else { Contribution::Weight(w) }
}

/// Effective priority: base + Σ weights clamped to 1..=254; the owner's 255
/// never changes (keepalived-reference §2.6).
pub fn effective_priority(base: u8, sum: i64) -> u8 {
    if base == 255 {
        return 255;
    }
    (i64::from(base).saturating_add(sum)).clamp(1, 254) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(rise: u32, fall: u32, init_fail: bool) -> Tracker {
        Tracker::new(&TrackerConfig {
            kind: TrackerKind::Script { rise, fall, init_fail },
            ..TrackerConfig::script("chk", &["true"])
        })
    }

    #[test]
    fn rise_and_fall_counting() {
        let mut t = script(2, 3, false);
        assert_eq!(t.status, TrackStatus::Unknown);
        assert!(t.script_result(true), "first success is enough");
        assert_eq!(t.status, TrackStatus::Up);
        assert!(!t.script_result(false));
        assert!(!t.script_result(false));
        assert!(!t.script_result(true), "a success resets the fall streak");
        assert!(!t.script_result(false));
        assert!(!t.script_result(false));
        assert!(t.script_result(false), "third consecutive failure");
        assert_eq!(t.status, TrackStatus::Down);
        assert!(!t.script_result(true));
        assert!(!t.script_result(false), "a failure resets the rise streak");
        assert!(!t.script_result(true));
        assert!(t.script_result(true), "second consecutive success");
        assert_eq!(t.status, TrackStatus::Up);
    }

    #[test]
    fn first_failure_is_down_and_init_fail_needs_rise() {
        let mut t = script(3, 3, false);
        assert!(t.script_result(false));
        assert_eq!(t.status, TrackStatus::Down);

        let mut t = script(2, 1, true);
        assert_eq!(t.status, TrackStatus::Down);
        assert!(!t.script_result(true));
        assert!(t.script_result(true));
        assert_eq!(t.status, TrackStatus::Up);
    }

    #[test]
    fn weights_and_reverse() {
        use Contribution::*;
        use TrackStatus::*;
        assert_eq!(updown_contribution(Up, 10, false), Weight(10));
        assert_eq!(updown_contribution(Down, 10, false), Weight(0));
        assert_eq!(updown_contribution(Up, -10, false), Weight(0));
        assert_eq!(updown_contribution(Down, -10, false), Weight(-10));
        // reverse: "the priority is decreased when up and increased when down".
        assert_eq!(updown_contribution(Up, 10, true), Weight(-10));
        assert_eq!(updown_contribution(Down, 10, true), Weight(0));
        assert_eq!(updown_contribution(Up, -10, true), Weight(0));
        assert_eq!(updown_contribution(Down, -10, true), Weight(10));
        // "weight 0 reverse will cause the instance to be down when up".
        assert_eq!(updown_contribution(Down, 0, false), Fault { silent: false });
        assert_eq!(updown_contribution(Up, 0, true), Fault { silent: false });
        assert_eq!(updown_contribution(Down, 0, true), Weight(0));
        assert_eq!(updown_contribution(Up, 0, false), Weight(0));
        assert_eq!(updown_contribution(Unknown, 0, false), Fault { silent: true });
        assert_eq!(updown_contribution(Unknown, -50, false), Weight(0));
    }

    #[test]
    fn file_values() {
        use Contribution::*;
        assert_eq!(file_contribution(0, 0, false), Weight(0));
        assert_eq!(file_contribution(3, 0, false), Fault { silent: false });
        assert_eq!(file_contribution(0, 0, true), Fault { silent: false });
        assert_eq!(file_contribution(3, 0, true), Weight(0));
        assert_eq!(file_contribution(3, 10, false), Weight(30));
        assert_eq!(file_contribution(3, 10, true), Weight(-30));
        assert_eq!(file_contribution(-253, 1, false), Weight(-253));
        assert_eq!(file_contribution(-254, 1, false), Fault { silent: false });
        assert_eq!(file_contribution(300, 1, false), Weight(253));
        assert_eq!(file_contribution(i64::MAX, i32::MAX, true), Fault { silent: false });
    }

    #[test]
    fn clamping() {
        assert_eq!(effective_priority(100, 50), 150);
        assert_eq!(effective_priority(100, 200), 254, "255 is never reached by adding");
        assert_eq!(effective_priority(100, -150), 1, "never below 1");
        assert_eq!(effective_priority(255, -100), 255, "the owner never changes");
        assert_eq!(effective_priority(1, i64::MIN), 1);
        assert_eq!(effective_priority(254, i64::MAX), 254);
    }
}
