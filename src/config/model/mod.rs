//! The `Config` types: plain data, every default already filled in.
//!
//! Defaults follow keepalived 2.2.7 (see `keepalived-reference.md` §1.2–1.5);
//! `Default` impls carry them so the parser only writes what a file says.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::time::Duration;
use crate::wire::vrrp::{Auth, V3Ipv4Checksum, Version};

mod trackers;
pub use trackers::*;

/// Address family of an instance (fixed by its first VIP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

/// `state MASTER|BACKUP`: only a start-up hint (keepalived-reference §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    Backup,
    Master,
}

/// The whole daemon configuration.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub globals: Globals,
    pub instances: Vec<InstanceConfig>,
    pub sync_groups: Vec<SyncGroupConfig>,
    /// Named trackers (`vrrp_script`, `track_file`, …); instances and groups
    /// refer to them by index.
    pub trackers: Vec<TrackerConfig>,
    /// `vrrp_startup_delay`: instances stay in Init this long after start.
    pub startup_delay: Duration,
    /// `static_ipaddress`: installed at start whatever the VRRP state.
    pub static_addresses: Vec<VipConfig>,
    /// `static_routes` / `static_rules`: installed at start, removed at exit.
    pub static_routes: Vec<RouteConfig>,
    pub static_rules: Vec<RuleConfig>,
}

/// `global_defs` settings that are not per-instance defaults (those are
/// copied into each [`InstanceConfig`] by the config layer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Globals {
    pub router_id: Option<String>,
    /// `script_user`: default user (and group) of every script.
    pub script_user: Option<ScriptUser>,
    pub enable_script_security: bool,
    /// `notify_fifo` / `vrrp_notify_fifo` and their reader scripts.
    pub notify_fifo: Option<Fifo>,
    pub notify_fifo_script: Option<Script>,
    pub vrrp_notify_fifo: Option<Fifo>,
    pub vrrp_notify_fifo_script: Option<Script>,
    /// Minimum gap between GARPs / NAs on one interface (0 = back to back).
    pub garp_interval: Duration,
    pub gna_interval: Duration,
    pub mcast_group4: Ipv4Addr,
    pub mcast_group6: Ipv6Addr,
    /// `default_interface`: for static addresses without `dev`.
    pub default_interface: Option<String>,
    /// `vmac_prefix`: a `use_vmac` without a name is `PREFIX.VRID`
    /// (default `vrrp`).
    pub vmac_prefix: Option<String>,
    /// How the daemon is scheduled.
    pub sched: SchedConfig,
    /// `notify_timeout` (a vipd extension): how long a notify script may
    /// run before it is stopped. keepalived never stops one.
    pub notify_timeout: Duration,
    /// E-mail alerts: `notification_email`, `smtp_server`, ...
    pub mail: Mail,
}

/// `global_defs` e-mail settings (keepalived's SMTP alerts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mail {
    /// `notification_email { ... }`: the recipients.
    pub to: Vec<String>,
    /// `notification_email_from`; `None`: `keepalived@HOSTNAME`.
    pub from: Option<String>,
    /// `smtp_server ADDR [PORT]`; no server, no mail.
    pub server: Option<core::net::SocketAddr>,
    /// `smtp_helo_name`; `None`: the host name.
    pub helo: Option<String>,
    /// `smtp_connect_timeout`: for the connection and for each reply.
    pub connect_timeout: Duration,
    /// `smtp_alert` / `smtp_alert_vrrp`: defaults of the instances' and
    /// groups' `smtp_alert` (`smtp_alert_vrrp` first).
    pub alert: Option<bool>,
    pub alert_vrrp: Option<bool>,
    /// `no_email_faults`: no mail on entering FAULT.
    pub no_faults: bool,
}

impl Mail {
    /// Whether an instance or group with `own` (its `smtp_alert`, if set)
    /// sends mail: as keepalived, unset falls back to `smtp_alert_vrrp`,
    /// then `smtp_alert`, then off; and nothing goes without a server and
    /// a recipient.
    pub fn alerts(&self, own: Option<bool>) -> bool {
        self.server.is_some() && !self.to.is_empty() && own.or(self.alert_vrrp).or(self.alert).unwrap_or(false)
    }
}

/// `smtp_connect_timeout` when the file does not set it (keepalived's).
pub const SMTP_CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// `notify_timeout` when the file does not set it.
pub const NOTIFY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// `vrrp_rt_priority`, `vrrp_priority`, `vrrp_rlimit_rttime`,
/// `vrrp_no_swap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedConfig {
    /// SCHED_RR priority; `Some(0)`: never real-time; `None`: real-time
    /// priority 1 when an instance advertises faster than once a second.
    pub rt_priority: Option<u8>,
    /// Nice value, -20..=19.
    pub nice: Option<i8>,
    /// CPU time, µs, vipd may use at real-time priority without sleeping
    /// before it gets SIGXCPU (and falls back to normal scheduling).
    pub rlimit_rttime_us: u32,
    /// Lock all memory (mlockall).
    pub no_swap: bool,
}

impl Default for SchedConfig {
    fn default() -> Self {
        // keepalived's default RLIMIT_RTTIME.
        SchedConfig { rt_priority: None, nice: None, rlimit_rttime_us: 10_000, no_swap: false }
    }
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            router_id: None,
            script_user: None,
            enable_script_security: false,
            notify_fifo: None,
            notify_fifo_script: None,
            vrrp_notify_fifo: None,
            vrrp_notify_fifo_script: None,
            garp_interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            mcast_group4: crate::wire::vrrp::MULTICAST_V4,
            mcast_group6: crate::wire::vrrp::MULTICAST_V6,
            default_interface: None,
            vmac_prefix: None,
            sched: SchedConfig::default(),
            notify_timeout: NOTIFY_TIMEOUT_DEFAULT,
            mail: Mail { connect_timeout: SMTP_CONNECT_TIMEOUT_DEFAULT, ..Mail::default() },
        }
    }
}

/// A user and optional group scripts run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// A command to run: argv already split, and who runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub argv: Vec<String>,
    pub user: Option<ScriptUser>,
    /// The keyword that named it, for the host checks' diagnostics (`None`
    /// for scripts not read from a file).
    pub span: Option<crate::config::diag::Span>,
}

/// A notify FIFO, created if missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fifo {
    pub path: PathBuf,
    pub user: Option<ScriptUser>,
}

/// Notify scripts of an instance or a sync group.
///
/// Each script is boxed: 8 bytes when absent instead of 88, and an
/// instance rarely has more than one. The engine keeps a copy of every
/// instance's configuration: unboxed, they made an `Instance` 2,096 bytes
/// instead of 1,536 (0.55 MB more resident with 1,000 instances).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    pub master: Option<Box<Script>>,
    pub backup: Option<Box<Script>>,
    pub fault: Option<Box<Script>>,
    pub stop: Option<Box<Script>>,
    pub deleted: Option<Box<Script>>,
    /// `notify`: gets `INSTANCE|GROUP name state priority` appended.
    pub generic: Option<Box<Script>>,
    pub master_rx_lower_pri: Option<Box<Script>>,
    pub priority_changes: bool,
    /// `notify_deleted`: report DELETED (not FAULT) when a reload removes
    /// the instance.
    pub report_deleted: bool,
    /// `smtp_alert [BOOL]`; `None`: the global default (see [`Mail::alerts`]).
    pub smtp_alert: Option<bool>,
}

/// One `vrrp_instance`.
#[derive(Clone, Debug)]
pub struct InstanceConfig {
    pub name: String,
    /// `interface`: the interface adverts are sent and received on.
    pub interface: String,
    pub vrid: u8,
    pub family: Family,
    pub version: Version,
    /// Configured (base) priority, 1..=255; 255 = address owner.
    pub priority: u8,
    pub initial_state: InitialState,
    /// `advert_int`: whole seconds for v2, a multiple of 10 ms for v3
    /// (validated by the config layer).
    pub advert_int: Duration,
    /// False with `nopreempt`.
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// v2 only; `Auth::None` for v3.
    pub auth: Auth,
    /// `unicast_src_ip` / `mcast_src_ip`; else the interface's primary
    /// address (IPv6: its link-local address).
    pub src_addr: Option<IpAddr>,
    /// Non-empty = unicast mode.
    pub unicast_peers: Vec<UnicastPeer>,
    /// Multicast group adverts go to; `None` = 224.0.0.18 / ff02::12.
    pub mcast_group: Option<IpAddr>,
    pub vips: Vec<VipConfig>,
    /// `virtual_ipaddress_excluded`: installed like VIPs, not advertised.
    pub excluded_vips: Vec<VipConfig>,
    /// `virtual_routes` / `virtual_rules`: installed with the addresses on
    /// becoming master, removed (before them) on leaving it.
    pub routes: Vec<RouteConfig>,
    pub rules: Vec<RuleConfig>,
    pub garp: GarpConfig,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    /// Master_Down_Interval = this × Master_Adver_Interval + Skew (RFC: 3).
    pub down_timer_adverts: u8,
    pub dont_track_primary: bool,
    /// Backups skip the VIP-list check for adverts from the last master.
    pub skip_check_adv_addr: bool,
    /// Drop unicast adverts whose source is not a peer.
    pub check_unicast_src: bool,
    /// vipd extension `accept_any_unicast_src`: accept unicast adverts
    /// from any source, as keepalived does by default. Off: adverts from
    /// addresses that are not peers are dropped and counted.
    pub accept_any_unicast_src: bool,
    /// vipd extension `peer_silent_after`: a unicast master raises
    /// `peer_silent` when a peer sends nothing for this long, and a unicast
    /// backup reports its presence to the master; zero = off.
    pub peer_silent_after: Duration,
    /// What vipd emits for v3 over IPv4; both forms are accepted.
    pub v3_ipv4_checksum: V3Ipv4Checksum,
    /// Trackers feeding effective priority and Fault.
    pub track: Vec<TrackRef>,
    /// `track_interface` entries.
    pub track_interfaces: Vec<TrackInterface>,
    /// Send a GARP/NA for our own source when leaving Fault in unicast mode,
    /// so the master can reach us before our timer fires (keepalived #1283).
    pub unicast_fault_announce: bool,
    /// TTL / hop limit of unicast adverts; `None` = 255 for IPv4, the
    /// kernel default for IPv6.
    pub unicast_ttl: Option<u8>,
    /// Fault while the configured source address is missing.
    pub track_src_ip: bool,
    /// Accept mode (RFC 9568 §6.1): answer traffic to the VIPs as master.
    pub accept: bool,
    /// `strict_mode` / `vrrp_strict` was in force when the config was read.
    pub strict: bool,
    pub notify: Notify,
    /// `use_vmac`: the VIPs live on a macvlan interface with the RFC's
    /// virtual router MAC (`VmacConfig`); `None` = on `interface`.
    pub vmac: Option<VmacConfig>,
}

/// `use_vmac [NAME]` and `vmac_xmit_base` of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacConfig {
    /// The macvlan interface's name (default `vrrp.VRID`), at most 15 bytes.
    pub name: String,
    /// `vmac_xmit_base`: adverts leave from `interface` (its own MAC)
    /// rather than from the macvlan.
    pub xmit_base: bool,
}

impl InstanceConfig {
    /// An instance with keepalived's defaults; tests and the parser fill the rest.
    pub fn new(name: &str, interface: &str, vrid: u8, version: Version, vips: &[IpAddr]) -> Self {
        let family = vips.first().map(Family::of).unwrap_or(Family::V4);
        InstanceConfig {
            name: name.to_owned(),
            interface: interface.to_owned(),
            vrid,
            family,
            version: if family == Family::V6 { Version::V3 } else { version },
            priority: 100,
            initial_state: InitialState::Backup,
            advert_int: Duration::from_secs(1),
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth: Auth::None,
            src_addr: None,
            unicast_peers: Vec::new(),
            mcast_group: None,
            vips: vips.iter().map(|a| VipConfig::host(*a)).collect(),
            excluded_vips: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            garp: GarpConfig::default(),
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: 3,
            dont_track_primary: false,
            skip_check_adv_addr: false,
            check_unicast_src: false,
            accept_any_unicast_src: false,
            peer_silent_after: Duration::ZERO,
            v3_ipv4_checksum: V3Ipv4Checksum::PseudoHeader,
            track: Vec::new(),
            track_interfaces: Vec::new(),
            unicast_fault_announce: true,
            unicast_ttl: None,
            track_src_ip: false,
            accept: true,
            strict: false,
            notify: Notify::default(),
            vmac: None,
        }
    }

    /// The RFC 5798 §7.3 virtual router MAC: 00:00:5e:00:01:VRID for IPv4,
    /// 00:00:5e:00:02:VRID for IPv6.
    pub fn virtual_mac(&self) -> [u8; 6] {
        let fam = if self.family == Family::V6 { 2 } else { 1 };
        [0x00, 0x00, 0x5e, 0x00, fam, self.vrid]
    }

    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The multicast group the instance's adverts go to: `mcast_dst_ip`, or
    /// (validation fills that in from `vrrp_mcast_group4/6`) the VRRP group
    /// of its family.
    pub fn group_addr(&self) -> IpAddr {
        self.mcast_group.unwrap_or(match self.family {
            Family::V4 => IpAddr::V4(crate::wire::vrrp::MULTICAST_V4),
            Family::V6 => IpAddr::V6(crate::wire::vrrp::MULTICAST_V6),
        })
    }

    /// Whether adverts of the two instances can be told apart although they
    /// share interface, family and VRID (keepalived-reference §1.3): one
    /// unicast and one multicast, different multicast groups, or unicast
    /// peer sets that do not overlap. The one rule behind the config's
    /// duplicate-VRID error and the engine's demultiplexer.
    pub fn separable_from(&self, other: &InstanceConfig) -> bool {
        match (self.is_unicast(), other.is_unicast()) {
            (true, true) => !peers_overlap(&self.unicast_peers, &other.unicast_peers),
            (false, false) => self.group_addr() != other.group_addr(),
            _ => true,
        }
    }
}

/// Whether two peer lists share an address; linear in their lengths, since
/// a generated configuration may list tens of thousands of peers.
fn peers_overlap(a: &[UnicastPeer], b: &[UnicastPeer]) -> bool {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if small.len() <= 8 {
        return large.iter().any(|q| small.iter().any(|p| p.addr == q.addr));
    }
    let seen: std::collections::HashSet<IpAddr> = small.iter().map(|p| p.addr).collect();
    large.iter().any(|q| seen.contains(&q.addr))
}

/// One `unicast_peer` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    /// Accepted TTL range of adverts from this peer; implies source checking.
    pub min_ttl: u8,
    pub max_ttl: u8,
}

impl UnicastPeer {
    pub fn new(addr: IpAddr) -> Self {
        UnicastPeer { addr, min_ttl: 0, max_ttl: 255 }
    }
}

/// One `virtual_ipaddress` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VipConfig {
    pub addr: IpAddr,
    pub prefix: u8,
    /// `dev`: `None` = the instance's interface.
    pub dev: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
    /// rtnetlink scope value (0 = global).
    pub scope: u8,
    pub label: Option<String>,
    /// `no_track`: deleting it by hand does not make the master step down.
    pub no_track: bool,
    /// `peer`: the other end of a point-to-point address.
    pub peer: Option<IpAddr>,
    /// IPv6: added with IFA_F_NODAD (keepalived's default; `-nodad` clears).
    pub nodad: bool,
    /// IPv6 `preferred_lft` seconds; `None` = forever. keepalived's default
    /// is 0 (deprecated) for a /128 so it is never picked as a source.
    pub preferred_lft: Option<u32>,
    pub home: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
}

impl VipConfig {
    /// `/32` or `/128`, scope global, no label.
    pub fn host(addr: IpAddr) -> Self {
        VipConfig::new(addr, if addr.is_ipv4() { 32 } else { 128 })
    }

    /// keepalived's defaults for `addr/prefix`.
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        VipConfig {
            addr,
            prefix,
            dev: None,
            broadcast: None,
            scope: 0,
            label: None,
            no_track: false,
            peer: None,
            nodad: addr.is_ipv6(),
            preferred_lft: if addr.is_ipv6() && prefix == 128 { Some(0) } else { None },
            home: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
        }
    }
}

/// Gratuitous ARP / unsolicited NA policy (keepalived-reference §2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpConfig {
    /// Second burst this long after becoming master; zero = none.
    pub master_delay: Duration,
    /// Rounds (over all VIPs) per burst.
    pub master_repeat: u8,
    /// Periodic refresh while master; zero = off.
    pub master_refresh: Duration,
    pub master_refresh_repeat: u8,
    /// When a master hears a lower-priority advert: a burst now and again
    /// after this delay (zero = no second burst).
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u8,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        }
    }
}

/// One `vrrp_sync_group`.
#[derive(Clone, Debug)]
pub struct SyncGroupConfig {
    pub name: String,
    /// Indexes into `Config::instances`.
    pub members: Vec<usize>,
    pub notify: Notify,
}

/// One `virtual_routes` / `static_routes` line (`ip route` grammar, the
/// subset vipd implements; vipd.conf(5)). Numbers are rtnetlink values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    pub dst: IpAddr,
    pub dst_len: u8,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    /// `dev`: resolved to an index when the route is installed.
    pub dev: Option<String>,
    pub table: u32,
    pub metric: Option<u32>,
    pub scope: u8,
    pub protocol: u8,
    /// RTN_*: unicast, or `blackhole`, `unreachable`, `prohibit`, `throw`.
    pub kind: u8,
}

/// One `virtual_rules` / `static_rules` line (`ip rule` grammar, subset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleConfig {
    pub family: Family,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: u32,
    /// FR_ACT_*: lookup a table, or `blackhole`, `unreachable`, `prohibit`.
    pub action: u8,
    pub priority: u32,
    pub invert: bool,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub protocol: u8,
}
