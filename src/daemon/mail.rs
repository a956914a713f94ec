//! E-mail alerts on state changes, as keepalived sends them: an instance
//! or sync group with `smtp_alert` mails each state it enters (MASTER,
//! BACKUP, FAULT; the same state twice in a row only once), with
//! keepalived's subject, body and headers. Alerts wait in a bounded queue
//! ([`QUEUE`], the oldest dropped when full) for one task that delivers
//! them one at a time over plain SMTP (`sys::smtp`), each wait bounded by
//! `smtp_connect_timeout`: a slow or dead server delays only the mail,
//! never the loop. One log line per failed delivery.
//!
//! Building an alert allocates (a few hundred bytes); it happens on state
//! changes only, never per advert.

use core::cell::RefCell;
use core::fmt::Write as _;
use core::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration as StdDuration;

use super::Daemon;
use crate::config::Config;
use crate::core::NotifyState;
use crate::sys::smtp;

/// Alerts waiting at most; a server slower than the transitions loses the
/// oldest ones (counted as dropped).
pub(super) const QUEUE: usize = 16;

/// What a configuration says about mail, prepared at load.
#[derive(Debug)]
pub(super) struct MailPlan {
    server: SocketAddr,
    helo: String,
    from: String,
    to: Vec<String>,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    timeout: StdDuration,
    /// `router_id`, or the host name: the subject's `[...]`.
    router_id: String,
    no_faults: bool,
    /// Per `InstanceId` / `GroupId`: whether it mails.
    pub(super) instances: Vec<bool>,
    pub(super) groups: Vec<bool>,
}

impl MailPlan {
    /// `None` when nothing would ever be mailed.
    pub(super) fn build(cfg: &Config) -> Option<Rc<MailPlan>> {
        let m = &cfg.globals.mail;
        let server = m.server?;
        let instances: Vec<bool> = cfg.instances.iter().map(|i| m.alerts(i.notify.smtp_alert)).collect();
        let groups: Vec<bool> = cfg.sync_groups.iter().map(|g| m.alerts(g.notify.smtp_alert)).collect();
        if !instances.iter().chain(&groups).any(|&b| b) {
            return None;
        }
        // keepalived's defaults: the node name, "localhost" without one.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let host = match host.trim() {
            "" => "localhost",
            h => h,
        };
        Some(Rc::new(MailPlan {
            server,
            helo: m.helo.clone().unwrap_or_else(|| host.to_owned()),
            from: m.from.clone().unwrap_or_else(|| format!("keepalived@{host}")),
            to: m.to.clone(),
            timeout: m.connect_timeout.to_std(),
            router_id: cfg.globals.router_id.clone().unwrap_or_else(|| host.to_owned()),
            no_faults: m.no_faults,
            instances,
            groups,
        }))
    }
}

/// One message ready to send.
pub(super) struct Alert {
    /// For the log line on failure.
    subject: String,
    /// Headers and body, CRLF line ends.
    message: Vec<u8>,
}

/// The queue and the counters `vipd status` reports.
pub(super) struct Mailer {
    tx: smol::channel::Sender<Alert>,
    /// The sending task's end; kept here to drop the oldest alert when full.
    rx: smol::channel::Receiver<Alert>,
    pub(super) sent: u64,
    pub(super) failed: u64,
    pub(super) dropped: u64,
    /// `dropped` when last logged.
    pub(super) dropped_logged: u64,
    /// The state last mailed, per instance and per group.
    last_inst: Vec<Option<NotifyState>>,
    last_group: Vec<Option<NotifyState>>,
}

impl Mailer {
    pub(super) fn new() -> Mailer {
        let (tx, rx) = smol::channel::bounded(QUEUE);
        Mailer {
            tx,
            rx,
            sent: 0,
            failed: 0,
            dropped: 0,
            dropped_logged: 0,
            last_inst: Vec::new(),
            last_group: Vec::new(),
        }
    }

    /// A new configuration: instances and groups are numbered afresh.
    pub(super) fn reset(&mut self) {
        self.last_inst.clear();
        self.last_group.clear();
    }

    pub(super) fn receiver(&self) -> smol::channel::Receiver<Alert> {
        self.rx.clone()
    }

    /// Instance number `k`, named `name`, entered `state`.
    pub(super) fn instance(&mut self, plan: &MailPlan, k: usize, name: &str, state: NotifyState) {
        if plan.instances.get(k) != Some(&true) || !changed(&mut self.last_inst, k, state) {
            return;
        }
        let body = match state {
            NotifyState::Master => "=> VRRP Instance is now owning VRRP VIPs <=",
            _ => "=> VRRP Instance is no longer owning VRRP VIPs <=",
        };
        self.queue(plan, "Instance", name, state, body);
    }

    /// Sync group number `k` entered `state`.
    pub(super) fn group(&mut self, plan: &MailPlan, k: usize, name: &str, state: NotifyState) {
        if plan.groups.get(k) != Some(&true) || !changed(&mut self.last_group, k, state) {
            return;
        }
        let body = match state {
            NotifyState::Master => "=> All VRRP group instances are now in MASTER state <=",
            NotifyState::Backup => "=> All VRRP group instances are now in BACKUP state <=",
            _ => "=> All VRRP group instances are now in FAULT state <=",
        };
        self.queue(plan, "Group", name, state, body);
    }

    fn queue(&mut self, plan: &MailPlan, kind: &str, name: &str, state: NotifyState, body: &str) {
        if matches!(state, NotifyState::Stop) || (plan.no_faults && matches!(state, NotifyState::Fault)) {
            return;
        }
        let subject = format!("[{}] VRRP {kind} {name} - Entering {} state", plan.router_id, state.name());
        let mut m = String::with_capacity(256 + subject.len());
        let _ = write!(m, "Date: {}\r\nFrom: {}\r\nSubject: {subject}\r\n", Rfc822Now, plan.from);
        // keepalived ends the body with an empty line before the final `.`.
        let _ = write!(m, "X-Mailer: Keepalived\r\nTo: {}\r\n\r\n{body}\r\n\r\n", plan.to.join(", "));
        let mut alert = Alert { subject, message: m.into_bytes() };
        // Full: the oldest alert goes, the newest state matters more.
        while let Err(smol::channel::TrySendError::Full(a)) = self.tx.try_send(alert) {
            alert = a;
            if self.rx.try_recv().is_ok() {
                self.dropped += 1;
            }
        }
    }
}

/// Whether `state` differs from the last one mailed for `k` (and records it).
fn changed(last: &mut Vec<Option<NotifyState>>, k: usize, state: NotifyState) -> bool {
    if last.len() <= k {
        last.resize(k + 1, None);
    }
    let new = last[k] != Some(state);
    last[k] = Some(state);
    new
}

/// The `Date:` header now, in local time: `Sun, 06 Dec 2026 02:54:32 +0000`.
struct Rfc822Now;

impl core::fmt::Display for Rfc822Now {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use super::status::keepalived::{DAYS, MONTHS, civil};
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let off = crate::sys::clock::utc_offset(unix);
        let local = unix as i64 + i64::from(off);
        let (days, rem) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil(days);
        let (sign, a) = if off < 0 { ('-', -off) } else { ('+', off) };
        write!(
            f,
            "{}, {d:02} {} {y} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            DAYS[days.rem_euclid(7) as usize],
            MONTHS[(m - 1) as usize],
            rem / 3600,
            rem / 60 % 60,
            rem % 60,
            a / 3600,
            a / 60 % 60
        )
    }
}

/// Delivers queued alerts one at a time, for the daemon's whole life.
pub(super) async fn deliver_loop(d: Rc<RefCell<Daemon>>, rx: smol::channel::Receiver<Alert>) {
    while let Ok(alert) = rx.recv().await {
        // The configuration now: a reload may have changed the server.
        let Some(plan) = d.borrow().plan.mail.clone() else { continue };
        let e = smtp::Envelope {
            server: plan.server,
            helo: &plan.helo,
            from: &plan.from,
            to: &plan.to,
            message: &alert.message,
            timeout: plan.timeout,
        };
        let result = smtp::deliver(&e).await;
        let mut dm = d.borrow_mut();
        match result {
            Ok(()) => {
                dm.mail.sent += 1;
                if dm.log.detail {
                    log!(dm.log, "SMTP alert successfully sent to {}: {}", plan.server, alert.subject);
                }
            }
            Err(err) => {
                dm.mail.failed += 1;
                log!(dm.log, "SMTP alert to {} failed: {err} ({})", plan.server, alert.subject);
            }
        }
        dm.status.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> MailPlan {
        MailPlan {
            server: "127.0.0.1:25".parse().expect("addr"),
            helo: "h".into(),
            from: "k@h".into(),
            to: vec!["a@x".into(), "b@x".into()],
            timeout: StdDuration::from_secs(1),
            router_id: "R1".into(),
            no_faults: false,
            instances: vec![true, false],
            groups: vec![true],
        }
    }

    fn drain(m: &Mailer) -> Vec<String> {
        core::iter::from_fn(|| m.rx.try_recv().ok()).map(|a| String::from_utf8_lossy(&a.message).into_owned()).collect()
    }

    #[test]
    fn subject_body_and_repeats() {
        let (p, mut m) = (plan(), Mailer::new());
        m.instance(&p, 0, "VI_1", NotifyState::Backup);
        m.instance(&p, 0, "VI_1", NotifyState::Backup);
        m.instance(&p, 1, "VI_2", NotifyState::Master);
        m.instance(&p, 0, "VI_1", NotifyState::Master);
        m.group(&p, 0, "G", NotifyState::Fault);
        let got = drain(&m);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].starts_with("Date: "), "{}", got[0]);
        let rest = &got[0][got[0].find("\r\nFrom").expect("from")..];
        assert_eq!(
            rest,
            "\r\nFrom: k@h\r\nSubject: [R1] VRRP Instance VI_1 - Entering BACKUP state\r\nX-Mailer: Keepalived\r\n\
             To: a@x, b@x\r\n\r\n=> VRRP Instance is no longer owning VRRP VIPs <=\r\n\r\n"
        );
        assert!(got[1].contains("Entering MASTER state\r\n") && got[1].contains("now owning VRRP VIPs"));
        assert!(got[2].contains("Subject: [R1] VRRP Group G - Entering FAULT state\r\n"), "{}", got[2]);
        assert!(got[2].contains("\r\n\r\n=> All VRRP group instances are now in FAULT state <=\r\n"));
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        let (p, mut m) = (plan(), Mailer::new());
        for i in 0..QUEUE + 3 {
            let s = if i % 2 == 0 { NotifyState::Master } else { NotifyState::Backup };
            m.instance(&p, 0, "VI_1", s);
        }
        assert_eq!(m.dropped, 3);
        assert_eq!(drain(&m).len(), QUEUE);
    }

    #[test]
    fn date_header_shape() {
        let d = Rfc822Now.to_string();
        // "Sun, 06 Dec 2026 02:54:32 +0000"
        assert_eq!(d.len(), 31, "{d}");
        assert_eq!(&d[3..5], ", ");
    }
}
