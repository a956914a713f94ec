//! Every keepalived keyword vipd knows, per block, with what vipd does
//! with it. `vipd.conf(5)` lists the same tables.

/// What vipd does with a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Implemented.
    Yes,
    /// Not implemented, and ignoring it changes neither who becomes master
    /// nor which addresses are announced: a warning, then it is skipped.
    Ignored(&'static str),
    /// Not implemented, and ignoring it would change who becomes master or
    /// what is announced: an error.
    Refused(&'static str),
}

use Support::{Ignored, Refused, Yes};

const EMAIL: Support = Ignored("vipd sends no checker (LVS) e-mail");
const SNMP: Support = Ignored("vipd has no SNMP or D-Bus agent");
const FIREWALL: Support = Ignored("vipd installs no firewall rules (VIPs always answer, as in accept mode)");
const SCHED: Support = Ignored("vipd does not pin CPUs or raise its priority on its own schedule");
const LVS: Support = Ignored("vipd implements the VRRP side of keepalived only");
const PROCESS: Support = Ignored("vipd is a single process with fixed buffers");
const RELOAD: Support = Ignored("vipd reloads on SIGHUP without these options");
const VMAC: Support = Refused(
    "vipd implements `use_vmac [NAME]` and `vmac_xmit_base` only (no ipvlan, no base address on the macvlan); peers would see a different MAC",
);

/// Top-level blocks.
pub const TOP: &[(&str, Support)] = &[
    ("global_defs", Yes),
    ("vrrp_instance", Yes),
    ("vrrp_script", Yes),
    ("vrrp_probe", Yes),
    ("vrrp_sync_group", Yes),
    ("track_file", Yes),
    ("vrrp_track_file", Yes),
    ("static_ipaddress", Yes),
    ("static_routes", Yes),
    ("static_rules", Yes),
    ("linkbeat_interfaces", Ignored("vipd always uses netlink link state")),
    ("interface_up_down_delays", Ignored("vipd reacts to link changes at once")),
    ("garp_group", Ignored("use vrrp_garp_interval / vrrp_gna_interval")),
    ("track_group", Ignored("vipd has no static track groups")),
    ("vrrp_track_process", Yes),
    ("bfd_instance", Ignored("vipd has no BFD")),
    ("virtual_server", LVS),
    ("virtual_server_group", LVS),
    ("real_server", LVS),
    ("net_namespace", Refused("run vipd inside the namespace instead (ip netns exec)")),
    // keepalived 2.2.7 takes these at the top level, not in global_defs.
    ("use_pid_dir", PROCESS),
    ("instance", PROCESS),
    ("child_wait_time", PROCESS),
    ("namespace_with_ipsets", PROCESS),
    ("net_namespace_ipvs", LVS),
    ("linkbeat_use_polling", Ignored("vipd always uses netlink link state")),
];

pub const GLOBAL_DEFS: &[(&str, Support)] = &[
    ("router_id", Yes),
    ("script_user", Yes),
    ("enable_script_security", Yes),
    ("notify_fifo", Yes),
    ("notify_fifo_script", Yes),
    ("vrrp_notify_fifo", Yes),
    ("vrrp_notify_fifo_script", Yes),
    ("vrrp_mcast_group4", Yes),
    ("vrrp_mcast_group6", Yes),
    ("default_interface", Yes),
    ("vrrp_garp_master_delay", Yes),
    ("vrrp_garp_master_repeat", Yes),
    ("vrrp_garp_master_refresh", Yes),
    ("vrrp_garp_master_refresh_repeat", Yes),
    ("vrrp_garp_lower_prio_delay", Yes),
    ("vrrp_garp_lower_prio_repeat", Yes),
    ("vrrp_garp_interval", Yes),
    ("vrrp_gna_interval", Yes),
    ("vrrp_min_garp", Yes),
    ("vrrp_down_timer_adverts", Yes),
    ("vrrp_lower_prio_no_advert", Yes),
    ("vrrp_higher_prio_send_advert", Yes),
    ("vrrp_version", Yes),
    ("vrrp_check_unicast_src", Yes),
    ("vrrp_accept_any_unicast_src", Yes),
    ("vrrp_peer_silent_after", Yes),
    ("vrrp_skip_check_adv_addr", Yes),
    ("vrrp_strict", Yes),
    ("vrrp_startup_delay", Yes),
    ("vrrp_notify_priority_changes", Yes),
    ("v3_checksum_as_v2", Yes),
    ("notify_timeout", Yes),
    ("notification_email", Yes),
    ("notification_email_from", Yes),
    ("smtp_server", Yes),
    ("smtp_helo_name", Yes),
    ("smtp_connect_timeout", Yes),
    ("smtp_alert", Yes),
    ("smtp_alert_vrrp", Yes),
    ("smtp_alert_checker", EMAIL),
    ("no_email_faults", Yes),
    ("no_checker_emails", EMAIL),
    ("enable_snmp_vrrp", SNMP),
    ("enable_snmp_keepalived", SNMP),
    ("enable_snmp_checker", SNMP),
    ("enable_snmp_rfc", SNMP),
    ("enable_snmp_rfcv2", SNMP),
    ("enable_snmp_rfcv3", SNMP),
    ("enable_traps", SNMP),
    ("snmp_socket", SNMP),
    ("enable_dbus", SNMP),
    ("dbus_service_name", SNMP),
    ("vrrp_iptables", FIREWALL),
    ("vrrp_ipsets", FIREWALL),
    ("nftables", FIREWALL),
    ("nftables_priority", FIREWALL),
    ("nftables_counters", FIREWALL),
    ("nftables_ifindex", FIREWALL),
    ("nftables_ipvs", LVS),
    ("nftables_ipvs_priority", LVS),
    ("nftables_ipvs_start_fwmark", LVS),
    ("vrrp_priority", Yes),
    ("vrrp_rt_priority", Yes),
    ("vrrp_rlimit_rttime", Yes),
    ("vrrp_rlimit_rtime", Yes),
    ("vrrp_no_swap", Yes),
    ("vrrp_cpu_affinity", SCHED),
    ("max_auto_priority", SCHED),
    ("min_auto_priority_delay", SCHED),
    ("checker_priority", LVS),
    ("checker_rt_priority", LVS),
    ("checker_rlimit_rttime", LVS),
    ("checker_rlimit_rtime", LVS),
    ("lvs_process_name", LVS),
    ("checker_no_swap", LVS),
    ("checker_cpu_affinity", LVS),
    ("checker_process_name", LVS),
    ("checker_log_all_failures", LVS),
    ("bfd_priority", LVS),
    ("bfd_rt_priority", LVS),
    ("bfd_rlimit_rttime", LVS),
    ("bfd_rlimit_rtime", LVS),
    ("bfd_no_swap", LVS),
    ("bfd_cpu_affinity", LVS),
    ("bfd_process_name", LVS),
    ("lvs_flush", LVS),
    ("lvs_flush_on_stop", LVS),
    ("lvs_flush_onstop", LVS),
    ("lvs_timeouts", LVS),
    ("lvs_sync_daemon", LVS),
    ("lvs_notify_fifo", LVS),
    ("lvs_notify_fifo_script", LVS),
    ("lvs_netlink_cmd_rcv_bufs", LVS),
    ("lvs_netlink_cmd_rcv_bufs_force", LVS),
    ("lvs_netlink_monitor_rcv_bufs", LVS),
    ("lvs_netlink_monitor_rcv_bufs_force", LVS),
    ("net_namespace_ipvs", LVS),
    ("rs_init_notifies", LVS),
    ("vrrp_netlink_cmd_rcv_bufs", PROCESS),
    ("vrrp_netlink_cmd_rcv_bufs_force", PROCESS),
    ("vrrp_netlink_monitor_rcv_bufs", PROCESS),
    ("vrrp_netlink_monitor_rcv_bufs_force", PROCESS),
    ("process_monitor_rcv_bufs", PROCESS),
    ("process_monitor_rcv_bufs_force", PROCESS),
    ("vrrp_rx_bufs_policy", PROCESS),
    ("vrrp_rx_bufs_multiplier", PROCESS),
    ("process_names", PROCESS),
    ("process_name", PROCESS),
    ("vrrp_process_name", PROCESS),
    ("child_wait_time", PROCESS),
    ("use_pid_dir", PROCESS),
    ("instance", PROCESS),
    ("namespace_with_ipsets", PROCESS),
    ("umask", PROCESS),
    ("random_seed", PROCESS),
    ("data_use_instance", PROCESS),
    ("log_unknown_vrids", Ignored("vipd counts unknown VRIDs in vrid-errors and logs them rate-limited")),
    ("vmac_prefix", Yes),
    ("vmac_addr_prefix", Ignored("it names the macvlans of addresses with their own `use_vmac`, which vipd refuses")),
    ("disable_local_igmp", Ignored("vipd joins the VRRP group on the base interface, never on a macvlan")),
    ("dynamic_interfaces", Ignored("vipd checks that configured interfaces exist")),
    ("vrrp_garp_extra_if", Ignored("vipd sends GARPs on the VIPs' own interfaces only")),
    ("vrrp_vmac_garp_intvl", Ignored("vipd sends GARPs on the VIPs' own interfaces only")),
    ("linkbeat_use_polling", Ignored("vipd always uses netlink link state")),
    ("fifo_write_vrrp_states_on_reload", RELOAD),
    ("reload_check_config", RELOAD),
    ("reload_time_file", RELOAD),
    ("reload_repeat", RELOAD),
    ("reload_file", RELOAD),
    ("config_save_dir", RELOAD),
    ("tmp_config_directory", RELOAD),
    ("include_check", RELOAD),
    ("startup_script", Ignored("run it before vipd from the service manager")),
    ("startup_script_timeout", Ignored("run it before vipd from the service manager")),
    ("shutdown_script", Ignored("run it after vipd from the service manager")),
    ("shutdown_script_timeout", Ignored("run it after vipd from the service manager")),
    ("net_namespace", Refused("run vipd inside the namespace instead (ip netns exec)")),
];

pub const INSTANCE: &[(&str, Support)] = &[
    ("state", Yes),
    ("interface", Yes),
    ("virtual_router_id", Yes),
    ("priority", Yes),
    ("advert_int", Yes),
    ("nopreempt", Yes),
    ("preempt", Yes),
    ("preempt_delay", Yes),
    ("authentication", Yes),
    ("unicast_src_ip", Yes),
    ("mcast_src_ip", Yes),
    ("unicast_peer", Yes),
    ("unicast_ttl", Yes),
    ("check_unicast_src", Yes),
    ("accept_any_unicast_src", Yes),
    ("peer_silent_after", Yes),
    ("mcast_dst_ip", Yes),
    ("track_src_ip", Yes),
    ("version", Yes),
    ("virtual_ipaddress", Yes),
    ("virtual_ipaddress_excluded", Yes),
    ("track_interface", Yes),
    ("track_script", Yes),
    ("track_file", Yes),
    ("dont_track_primary", Yes),
    ("notify_master", Yes),
    ("notify_backup", Yes),
    ("notify_fault", Yes),
    ("notify_stop", Yes),
    ("notify_deleted", Yes),
    ("notify", Yes),
    ("notify_master_rx_lower_pri", Yes),
    ("notify_priority_changes", Yes),
    ("garp_master_delay", Yes),
    ("garp_master_repeat", Yes),
    ("garp_master_refresh", Yes),
    ("garp_master_refresh_repeat", Yes),
    ("garp_lower_prio_delay", Yes),
    ("garp_lower_prio_repeat", Yes),
    ("down_timer_adverts", Yes),
    ("lower_prio_no_advert", Yes),
    ("higher_prio_send_advert", Yes),
    ("accept", Yes),
    ("no_accept", FIREWALL),
    ("skip_check_adv_addr", Yes),
    ("strict_mode", Yes),
    ("v3_checksum_as_v2", Yes),
    ("native_ipv6", Ignored("deprecated: the family comes from the first virtual address")),
    ("debug", Ignored("keepalived does not implement it either")),
    ("smtp_alert", Yes),
    ("virtual_routes", Yes),
    ("virtual_rules", Yes),
    ("garp_extra_if", Ignored("vipd sends GARPs on the VIPs' own interfaces only")),
    ("vmac_garp_intvl", Ignored("vipd sends GARPs on the VIPs' own interfaces only")),
    ("promote_secondaries", Ignored("set net.ipv4.conf.IF.promote_secondaries with sysctl")),
    ("kernel_rx_buf_size", PROCESS),
    ("linkbeat_use_polling", Ignored("vipd always uses netlink link state")),
    ("lvs_sync_daemon_interface", LVS),
    ("old_unicast_checksum", Refused("keepalived sends the pre-1.3.6 unicast checksum with it; vipd does not")),
    ("unicast_fault_no_peer", Yes),
    ("use_vmac", Yes),
    ("use_vmac_addr", VMAC),
    ("vmac_xmit_base", Yes),
    ("use_ipvlan", VMAC),
    ("vrf", Refused("vipd does not bind adverts to a VRF")),
    ("track_process", Yes),
    ("track_bfd", Refused("vipd has no BFD; the priority would differ from keepalived's")),
];

pub const AUTHENTICATION: &[(&str, Support)] = &[("auth_type", Yes), ("auth_pass", Yes)];

pub const SCRIPT: &[(&str, Support)] = &[
    ("script", Yes),
    ("interval", Yes),
    ("timeout", Yes),
    ("weight", Yes),
    ("rise", Yes),
    ("fall", Yes),
    ("user", Yes),
    ("init_fail", Yes),
];

/// `vrrp_probe` (a vipd extension).
pub const PROBE: &[(&str, Support)] = &[
    ("http", Yes),
    ("tcp", Yes),
    ("expect", Yes),
    ("interval", Yes),
    ("timeout", Yes),
    ("weight", Yes),
    ("rise", Yes),
    ("fall", Yes),
    ("init_fail", Yes),
];

pub const TRACK_FILE: &[(&str, Support)] = &[("file", Yes), ("weight", Yes), ("init_file", Yes)];

pub const TRACK_PROCESS: &[(&str, Support)] = &[
    ("process", Yes),
    ("param_match", Yes),
    ("weight", Yes),
    ("quorum", Yes),
    ("quorum_max", Yes),
    ("delay", Yes),
    ("fork_delay", Yes),
    ("terminate_delay", Yes),
    ("full_command", Yes),
];

pub const SYNC_GROUP: &[(&str, Support)] = &[
    ("group", Yes),
    ("track_interface", Yes),
    ("track_script", Yes),
    ("track_file", Yes),
    ("notify_master", Yes),
    ("notify_backup", Yes),
    ("notify_fault", Yes),
    ("notify_stop", Yes),
    ("notify", Yes),
    ("notify_priority_changes", Yes),
    ("sync_group_tracking_weight", Yes),
    ("smtp_alert", Yes),
    ("global_tracking", Ignored("deprecated: use sync_group_tracking_weight")),
    ("track_process", Yes),
    ("track_bfd", Refused("vipd has no BFD; the priority would differ from keepalived's")),
];

/// Every table with the name of its block, for "belongs in" hints.
pub const ALL: &[(&str, &[(&str, Support)])] = &[
    ("the top level", TOP),
    ("global_defs", GLOBAL_DEFS),
    ("vrrp_instance", INSTANCE),
    ("authentication", AUTHENTICATION),
    ("vrrp_script", SCRIPT),
    ("vrrp_probe", PROBE),
    ("track_file", TRACK_FILE),
    ("vrrp_track_process", TRACK_PROCESS),
    ("vrrp_sync_group", SYNC_GROUP),
];

pub fn lookup(table: &[(&str, Support)], word: &str) -> Option<Support> {
    table.iter().find(|(k, _)| *k == word).map(|(_, s)| *s)
}

/// A hint for an unknown `word` in `table` (named `block`): a case
/// mismatch, the block it belongs in, or the closest keyword.
pub fn suggest(table: &[(&str, Support)], block: &str, word: &str) -> Option<String> {
    if let Some((k, _)) = table.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)) {
        return Some(format!("keywords are case-sensitive: `{k}`"));
    }
    for (name, other) in ALL {
        if *name != block && lookup(other, word).is_some() {
            return Some(format!("`{word}` belongs in {name}, not in {block}"));
        }
    }
    // Edit distance is quadratic; a long word is no typo of a keyword.
    if word.len() > 64 {
        return None;
    }
    let limit = (word.chars().count() / 3).clamp(1, 3);
    table
        .iter()
        .map(|(k, _)| (edit_distance(&word.to_ascii_lowercase(), k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

/// Levenshtein distance, by characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(cur).min(row[j]) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_no_duplicates() {
        for (name, t) in ALL {
            for (i, (k, _)) in t.iter().enumerate() {
                assert!(!t[i + 1..].iter().any(|(o, _)| o == k), "{k} twice in {name}");
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("priorty", "priority"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            suggest(INSTANCE, "vrrp_instance", "Priority").as_deref(),
            Some("keywords are case-sensitive: `priority`")
        );
        assert_eq!(suggest(INSTANCE, "vrrp_instance", "priorty").as_deref(), Some("did you mean `priority`?"));
        assert_eq!(suggest(INSTANCE, "vrrp_instance", "advert_interval").as_deref(), None);
        assert_eq!(
            suggest(GLOBAL_DEFS, "global_defs", "virtual_router_id").as_deref(),
            Some("`virtual_router_id` belongs in vrrp_instance, not in global_defs")
        );
        assert_eq!(
            suggest(INSTANCE, "vrrp_instance", "virtual_routerid").as_deref(),
            Some("did you mean `virtual_router_id`?")
        );
    }
}
