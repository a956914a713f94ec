//! `vrrp_sync_group` blocks: the members' names, the group's trackers and
//! notify scripts, and attaching all of it to the member instances once
//! every instance is read. It must not check an instance's own settings
//! (`instance_rules` does that, group trackers included) nor resolve
//! tracker names (`trackers`).

use super::cx::{Cx, block_name, name_of};
use super::instance::{RawInstance, set_once};
use super::trackers::{TrackName, track_line};
use crate::config::keywords;
use crate::config::lexer::Token;
use crate::config::model::*;
use crate::config::parse::Node;

/// Node, members, track_script, track_file, track_interface,
/// `sync_group_tracking_weight`, track_process.
pub(super) type RawGroup<'n> =
    (&'n Node, Vec<Token>, Vec<TrackName>, Vec<TrackName>, Vec<TrackInterface>, bool, Vec<TrackName>);

pub(super) fn sync_group<'n>(cx: &mut Cx<'_>, node: &'n Node, instances: &[&str]) -> Option<RawGroup<'n>> {
    block_name(cx, node)?;
    let mut members = Vec::new();
    let (mut scripts, mut files, mut ifaces) = (Vec::new(), Vec::new(), Vec::new());
    let mut processes = Vec::new();
    let mut tracking_weight = false;
    let mut has_group = false;
    for n in cx.block(node) {
        if instances.contains(&n.name()) && keywords::lookup(keywords::SYNC_GROUP, n.name()).is_none() {
            // keepalived's old syntax listed members directly in the group.
            cx.error_hint(
                n.span(),
                format!("instance `{}` listed directly in vrrp_sync_group", n.name()),
                "members go in a `group { … }` block (the old syntax is not accepted by keepalived 2 either)",
            );
            continue;
        }
        if !cx.known(n, keywords::SYNC_GROUP, "vrrp_sync_group") {
            continue;
        }
        match n.name() {
            "group" => {
                cx.extra(n, 0);
                has_group = true;
                for m in cx.block(n) {
                    cx.none(m);
                    cx.verbatim(m, false);
                    members.push(m.keyword.clone());
                }
            }
            "track_script" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    scripts.extend(track_line(cx, l, 253));
                }
            }
            "track_file" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    files.extend(track_line(cx, l, 254));
                }
            }
            "track_process" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    processes.extend(track_line(cx, l, 254));
                }
            }
            "track_interface" => {
                cx.extra(n, 0);
                for l in cx.block(n) {
                    if let Some(t) = track_line(cx, l, 253) {
                        ifaces.push(TrackInterface {
                            interface: t.name.text,
                            weight: t.weight.unwrap_or(0),
                            reverse: t.reverse,
                        });
                    }
                }
            }
            "sync_group_tracking_weight" => {
                cx.none(n);
                tracking_weight = true;
            }
            // Notifies are read again by group_notify.
            _ => {}
        }
    }
    if !has_group {
        cx.error_hint(node.span(), "vrrp_sync_group without a `group` block", "group { VI_1 VI_2 }");
    }
    Some((node, members, scripts, files, ifaces, tracking_weight, processes))
}

fn group_notify(cx: &mut Cx<'_>, node: &Node) -> Notify {
    let mut notify = Notify::default();
    for n in node.children() {
        match n.name() {
            "notify_master" => set_once(cx, n, &mut notify.master),
            "notify_backup" => set_once(cx, n, &mut notify.backup),
            "notify_fault" => set_once(cx, n, &mut notify.fault),
            "notify_stop" => set_once(cx, n, &mut notify.stop),
            "notify" => set_once(cx, n, &mut notify.generic),
            "notify_priority_changes" => notify.priority_changes = cx.flag(n),
            "smtp_alert" => notify.smtp_alert = Some(cx.flag(n)),
            _ => {}
        }
    }
    notify
}

fn zero_member_weights(cx: &mut Cx<'_>, group: &Node, r: &RawInstance) {
    let weighted = r.scripts.iter().chain(&r.files).chain(&r.processes).find(|t| t.weight.is_some_and(|w| w != 0));
    if let Some(t) = weighted {
        cx.error_hint(
            t.name.span,
            format!(
                "`{}` is weighted, but `{}` is in sync group `{}`: keepalived drops the weight",
                t.name.text,
                r.cfg.name,
                name_of(group)
            ),
            "add `sync_group_tracking_weight` to the group, or use weight 0",
        );
    } else if let Some(span) = r.weighted_iface {
        cx.error_hint(
            span,
            format!("a weighted track_interface in `{}`, which is in sync group `{}`", r.cfg.name, name_of(group)),
            "add `sync_group_tracking_weight` to the group, or use weight 0",
        );
    }
}

/// Sync groups: members by name; group trackers apply to every member.
pub(super) fn attach_groups(cx: &mut Cx<'_>, groups: &[RawGroup<'_>], raws: &mut [RawInstance], config: &mut Config) {
    let mut member_of: Vec<Option<usize>> = vec![None; raws.len()];
    for (gi, (node, members, scripts, files, ifaces, tracking_weight, processes)) in groups.iter().enumerate() {
        let mut idx = Vec::new();
        for m in members {
            match raws.iter().position(|r| r.cfg.name == m.text) {
                None => cx.error(m.span, format!("sync group member `{}` is not a vrrp_instance", m.text)),
                Some(i) if member_of[i].is_some() => {
                    cx.error(m.span, format!("vrrp_instance `{}` is already in another sync group", m.text))
                }
                Some(i) => {
                    member_of[i] = Some(gi);
                    idx.push(i);
                }
            }
        }
        if members.len() == 1 {
            cx.warn(node.span(), format!("sync group `{}` has a single member", name_of(node)));
        }
        for &i in &idx {
            let r = &mut raws[i];
            r.scripts.extend(scripts.iter().cloned());
            r.files.extend(files.iter().cloned());
            r.processes.extend(processes.iter().cloned());
            r.cfg.track_interfaces.extend(ifaces.iter().cloned());
            if !tracking_weight {
                zero_member_weights(cx, node, r);
            }
        }
        let notify = group_notify(cx, node);
        config.sync_groups.push(SyncGroupConfig { name: name_of(node), members: idx, notify });
    }
}
