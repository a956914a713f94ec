//! Log lines: where they go (syslog, standard error), the `log!` macro,
//! the rate limits on repeated receive errors and lower-priority adverts, and the wording of the
//! engine's state changes and `LogEvent`s. Lines are formatted straight
//! into the sink with `format_args!`, so logging never allocates; nothing
//! here decides anything about the protocol.

use core::net::IpAddr;
use std::io::{self, Write};

use super::Daemon;
use crate::core::conditions::Described;
use crate::core::{InstanceId, LogEvent, State};
use crate::time::{Duration, Instant};
use crate::wire::WireError;

/// Repeated receive errors are logged at most this often per instance and
/// error, with a count of what was suppressed.
pub(super) const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

pub(super) struct RateLimit {
    pub(super) last: Option<Instant>,
    pub(super) suppressed: u32,
}

pub(super) struct Log {
    pub(super) detail: bool,
    /// `[instance][error]`, plus one row for errors without an instance.
    pub(super) limits: Vec<RateLimit>,
    /// `-S`: lines go to syslog; to standard error as well with `-l`, and
    /// whenever syslog cannot take them.
    pub(super) syslog: Option<crate::sys::syslog::Syslog>,
    pub(super) console: bool,
}

impl Log {
    pub(super) fn line(&self, args: core::fmt::Arguments<'_>) {
        let sent = self.syslog.as_ref().is_some_and(|s| s.send(args));
        if !sent || self.console {
            let mut line = crate::sys::syslog::LineBuf::empty();
            let _ = core::fmt::Write::write_fmt(&mut line, args);
            let _ = io::stderr().lock().write_all(line.terminated());
        }
    }
}

macro_rules! log {
    ($log:expr, $($t:tt)*) => { $log.line(format_args!($($t)*)) };
}

/// Rate limits per instance row: one per receive error, then one for the
/// master's "lower priority ... forcing new election" line and one for the
/// backup's "-D" line on the adverts it discards.
const LIMITS_PER_ROW: usize = WireError::ALL.len() + 2;
const LOWER_PRIORITY_COL: usize = WireError::ALL.len();
const LOWER_DISCARDED_COL: usize = WireError::ALL.len() + 1;

pub(super) fn rate_limits(instances: usize) -> Vec<RateLimit> {
    (0..(instances + 1) * LIMITS_PER_ROW).map(|_| RateLimit { last: None, suppressed: 0 }).collect()
}

impl Log {
    /// Whether a rate-limited line of `row`/`col` may be written now; the
    /// number of lines suppressed since the last one when it may.
    fn allow(&mut self, now: Instant, row: usize, col: usize) -> Option<u32> {
        let limit = self.limits.get_mut(row * LIMITS_PER_ROW + col)?;
        if limit.last.is_some_and(|t| now.saturating_since(t) < ERROR_LOG_INTERVAL) {
            limit.suppressed = limit.suppressed.saturating_add(1);
            return None;
        }
        limit.last = Some(now);
        Some(core::mem::take(&mut limit.suppressed))
    }
}

/// ` from ADDR` when known: log pieces written without building Strings.
struct FromAddr(Option<IpAddr>);

impl core::fmt::Display for FromAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(a) => write!(f, " from {a}"),
            None => Ok(()),
        }
    }
}

/// ` (N more suppressed)` when rate limiting dropped lines.
struct Suppressed(u32);

impl core::fmt::Display for Suppressed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 > 0 { write!(f, " ({} more suppressed)", self.0) } else { Ok(()) }
    }
}

impl Daemon {
    /// -D: another host claims a VIP of ours in ARP or NA. At most one line
    /// a second for the same address, so a flood does not flood the log.
    pub(super) fn log_claim(&mut self, now: Instant, iface: crate::core::IfaceId, addr: IpAddr, hw: [u8; 6]) {
        if !self.log.detail
            || self.claim_logged.is_some_and(|(a, t)| a == addr && now.saturating_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.claim_logged = Some((addr, now));
        let dev = self.engine.ifaces().get(usize::from(iface.0)).map_or("?", |f| f.name.as_str());
        // By hand: six `{:02x}` cost more binary than this.
        let mut mac = [b':'; 17];
        for (i, b) in hw.iter().enumerate() {
            mac[i * 3] = b"0123456789abcdef"[usize::from(b >> 4)];
            mac[i * 3 + 1] = b"0123456789abcdef"[usize::from(b & 15)];
        }
        let mac = core::str::from_utf8(&mac).unwrap_or("?");
        log!(self.log, "{dev}: {addr} claimed by {mac}");
    }

    pub(super) fn name(&self, inst: InstanceId) -> &str {
        self.engine.instance(inst).map_or("?", |i| i.name())
    }

    pub(super) fn log_state(&self, inst: InstanceId, from: State, to: State, reason: crate::core::Reason) {
        let name = self.name(inst);
        match to {
            State::Init => {}
            State::Backup if from == State::Init => log!(self.log, "({name}) Entering BACKUP STATE (init)"),
            _ => log!(self.log, "({name}) Entering {to} STATE"),
        }
        // Always, not only with -D: "why did it fail over" is the first
        // question after any transition.
        if to != State::Init || self.log.detail {
            log!(self.log, "({name}) {from} -> {to}: {reason}");
        }
    }

    pub(super) fn log_event(&mut self, now: Instant, l: LogEvent) {
        match l {
            LogEvent::LowerPriorityDiscarded { inst, from, priority, .. } => {
                // Per advert in keepalived; a flood of them under -D once
                // cost a write per packet and made a backup miss its master.
                if !self.log.detail {
                    return;
                }
                let Some(more) = self.log.allow(now, usize::from(inst.0), LOWER_DISCARDED_COL) else { return };
                log!(
                    self.log,
                    "({}) received lower priority ({priority}) advert from {from} - discarding{}",
                    self.name(inst),
                    Suppressed(more)
                );
            }
            LogEvent::MasterRxLowerPriority { inst, from, priority, ours } => {
                // A peer stuck below us, or a flood, repeats this every
                // interval (keepalived #472): once per ERROR_LOG_INTERVAL.
                let Some(more) = self.log.allow(now, usize::from(inst.0), LOWER_PRIORITY_COL) else { return };
                log!(
                    self.log,
                    "({}) Received advert from {from} with lower priority {priority}, ours {ours}, {} new election{}",
                    self.name(inst),
                    if self.dry.is_some() { "would force" } else { "forcing" },
                    Suppressed(more)
                )
            }
            LogEvent::PreemptDelayStarted { inst, until } => {
                log!(self.log, "({}) preempt delay started, until {until}", self.name(inst))
            }
            LogEvent::PriorityChanged { inst, from, to } => {
                log!(self.log, "({}) Changing effective priority from {from} to {to}", self.name(inst))
            }
            LogEvent::OwnerConflict { inst, from } => log!(
                self.log,
                "({}) CONFIGURATION ERROR: local instance and a remote instance ({from}) are both address owners; lowering ours to 254",
                self.name(inst)
            ),
            LogEvent::OwnAdvertSeen { inst, from } => {
                log!(
                    self.log,
                    "({}) WARNING: advert received from {from} with our own address and priority",
                    self.name(inst)
                )
            }
            LogEvent::RxError { inst, src, error } => self.log_rx_error(now, inst, src, error),
            LogEvent::ChecksumForm { inst, from, form } => {
                let form = match form {
                    crate::wire::vrrp::ChecksumForm::NoPseudoHeader => "RFC 9568 form (no pseudo-header)",
                    _ => "pseudo-header form (keepalived, RFC 5798)",
                };
                log!(self.log, "({}) {from} sends VRRPv3 checksums in the {form}", self.name(inst))
            }
            LogEvent::SyncGroupWait { inst } => {
                if self.log.detail {
                    log!(self.log, "({}) waiting for its sync group to become master", self.name(inst));
                }
            }
            LogEvent::AddressNotTracked { iface, addr } => {
                let name = self.engine.ifaces().get(usize::from(iface.0)).map_or("?", |f| f.name.as_str());
                log!(self.log, "`{name}` has more addresses than vipd tracks; {addr} is not used as an advert source")
            }
            LogEvent::ScriptStatus { up, .. } => {
                if let Some((name, why)) = &self.last_exit {
                    if up {
                        log!(self.log, "VRRP_Script({name}) succeeded");
                    } else {
                        log!(self.log, "VRRP_Script({name}) failed ({why})");
                    }
                }
            }
            LogEvent::VipDeleted { inst, addr } => {
                log!(self.log, "({}) virtual address {addr} was deleted; releasing mastership", self.name(inst))
            }
            LogEvent::SendFailing { inst } => log!(
                self.log,
                "({}) adverts cannot be sent; entering FAULT for one master-down interval",
                self.name(inst)
            ),
            LogEvent::RemovedByReload { inst } => {
                log!(self.log, "({}) removed by the reload: released with priority 0", self.name(inst))
            }
            LogEvent::ConditionRaised { inst, condition, evidence } => {
                let Some(i) = self.engine.instance(inst) else { return };
                let text = Described { evidence, inst: i };
                log!(self.log, "({}) CONDITION {}: {text}", i.name(), condition.name())
            }
            LogEvent::ConditionCleared { inst, condition, why } => {
                log!(self.log, "({}) condition {} cleared: {why}", self.name(inst), condition.name())
            }
        }
    }

    fn log_rx_error(&mut self, now: Instant, inst: Option<InstanceId>, src: Option<IpAddr>, error: WireError) {
        let row = inst.map_or(self.engine.instances().len(), |i| usize::from(i.0));
        let Some(suppressed) = self.log.allow(now, row, error.index()) else { return };
        let who = inst.map_or("?", |i| self.name(i));
        log!(self.log, "({who}) discarded advert{}: {error}{}", FromAddr(src), Suppressed(suppressed));
    }
}
