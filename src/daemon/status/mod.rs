//! `vipd status` and keepalived's dump files: the snapshot of the daemon
//! ([`model`]) and the renderers that turn it into text ([`text`], [`json`],
//! [`prometheus`]). Nothing here runs unless somebody asks; nothing here
//! changes the daemon's state.

mod build;
pub mod json;
pub mod keepalived;
pub mod model;
pub mod prometheus;
pub mod text;

#[cfg(test)]
mod fixtures;

pub use build::Record;
pub use model::*;

/// systemd's `STATUS=` summary (`systemctl status vipd` shows it): each
/// instance and its state, or the counts per state when there are many.
pub fn summary<'a>(states: impl Iterator<Item = (&'a str, crate::core::State)> + Clone) -> String {
    use crate::core::State;
    use core::fmt::Write as _;
    const LISTED: usize = 8;
    let n = states.clone().count();
    // Written into one String: no String per part and no join.
    let mut out = String::new();
    if n <= LISTED {
        for (k, (name, s)) in states.enumerate() {
            let sep = if k > 0 { ", " } else { "" };
            let _ = write!(out, "{sep}{name} {s}");
        }
        return out;
    }
    let mut counts = [0usize; 4];
    for (_, s) in states {
        counts[match s {
            State::Master => 0,
            State::Backup => 1,
            State::Fault => 2,
            State::Init => 3,
        }] += 1;
    }
    let _ = write!(out, "{n} instances: ");
    let names = ["MASTER", "BACKUP", "FAULT", "INIT"];
    let mut sep = "";
    for (c, name) in counts.iter().zip(names).filter(|(c, _)| **c > 0) {
        let _ = write!(out, "{sep}{c} {name}");
        sep = ", ";
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::core::State;

    #[test]
    fn summary_lists_few_instances_and_counts_many() {
        let few = [("VI_1", State::Master), ("VI_2", State::Backup)];
        assert_eq!(super::summary(few.iter().copied()), "VI_1 MASTER, VI_2 BACKUP");
        let names: Vec<String> = (0..10).map(|k| format!("VI_{k}")).collect();
        let many: Vec<(&str, State)> = names
            .iter()
            .enumerate()
            .map(|(k, n)| (n.as_str(), if k < 3 { State::Master } else { State::Backup }))
            .collect();
        assert_eq!(super::summary(many.iter().copied()), "10 instances: 3 MASTER, 7 BACKUP");
    }
}
