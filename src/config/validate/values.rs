//! The value readers: a keyword's argument as a whole number in a range,
//! decimal seconds, a switch or boolean, an address, a string, a command
//! line with its user, or a FIFO path. They report a bad value and return
//! `None`; they must not decide what a block does with the value, which
//! stays with the block's own file.

use core::net::IpAddr;
use std::path::PathBuf;

use super::cx::Cx;
use crate::config::lexer::{Token, split_argv};
use crate::config::model::*;
use crate::config::parse::Node;
use crate::time::Duration;

impl Cx<'_> {
    pub(super) fn int(&mut self, node: &Node, tok: &Token, lo: i64, hi: i64) -> Option<i64> {
        self.int_for(node.name(), tok, lo, hi)
    }

    pub(super) fn int_for(&mut self, what: &str, tok: &Token, lo: i64, hi: i64) -> Option<i64> {
        match tok.text.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Some(v),
            Ok(_) => {
                self.error(tok.span, format!("`{}` is outside {lo}..{hi} for `{}`", tok.text, what));
                None
            }
            Err(_) => {
                self.error(tok.span, format!("`{}` is not a whole number (`{}`)", tok.text, what));
                None
            }
        }
    }

    pub(super) fn int_arg(&mut self, node: &Node, lo: i64, hi: i64) -> Option<i64> {
        let t = self.one(node)?;
        self.int(node, t, lo, hi)
    }

    /// Seconds with up to 6 decimals, in `lo..=hi` microseconds.
    pub(super) fn secs(&mut self, node: &Node, tok: &Token, lo: u64, hi: u64) -> Option<Duration> {
        let Some(us) = parse_micros(&tok.text) else {
            self.error(tok.span, format!("`{}` is not a number of seconds (`{}`)", tok.text, node.name()));
            return None;
        };
        if !(lo..=hi).contains(&us) {
            let (l, h) = (Duration::from_micros(lo), Duration::from_micros(hi));
            self.error(tok.span, format!("`{}` is outside {l}..{h} for `{}`", tok.text, node.name()));
            return None;
        }
        Some(Duration::from_micros(us))
    }

    pub(super) fn secs_arg(&mut self, node: &Node, lo: u64, hi: u64) -> Option<Duration> {
        let t = self.one(node)?;
        self.secs(node, t, lo, hi)
    }

    /// A keyword keepalived 2.2.7 takes without a value: it ignores any
    /// argument, so `vrrp_strict off` turns strict mode *on* there. vipd
    /// refuses the argument rather than read it differently.
    pub(super) fn switch(&mut self, node: &Node) -> bool {
        self.no_block(node);
        if let Some(t) = node.args.first() {
            self.error_hint(
                t.span,
                format!("`{}` takes no value", node.name()),
                format!(
                    "keepalived 2.2.7 ignores `{}` and turns `{}` on; remove the line to leave it off",
                    t.text,
                    node.name()
                ),
            );
        }
        true
    }

    /// keepalived's optional boolean: no argument = true.
    pub(super) fn flag(&mut self, node: &Node) -> bool {
        self.no_block(node);
        let Some(t) = node.args.first() else { return true };
        self.extra(node, 1);
        match t.text.as_str() {
            "on" | "true" | "yes" | "1" => true,
            "off" | "false" | "no" | "0" => false,
            _ => {
                self.error_hint(
                    t.span,
                    format!("`{}` is not a boolean (`{}`)", t.text, node.name()),
                    "use on/off, true/false, yes/no or 1/0",
                );
                true
            }
        }
    }

    pub(super) fn addr(&mut self, tok: &Token) -> Option<IpAddr> {
        match tok.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(tok.span, format!("`{}` is not an IPv4 or IPv6 address", tok.text));
                None
            }
        }
    }

    pub(super) fn addr_arg(&mut self, node: &Node) -> Option<IpAddr> {
        let t = self.one(node)?;
        self.addr(t)
    }

    pub(super) fn string_arg(&mut self, node: &Node) -> Option<String> {
        self.one(node).map(|t| t.text.clone())
    }

    /// `KEYWORD "cmd args" [user [group]]`.
    pub(super) fn script(&mut self, node: &Node) -> Option<Script> {
        self.no_block(node);
        let Some(cmd) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a command", node.name()));
            return None;
        };
        let user = self.user(node, 1);
        match split_argv(&cmd.text) {
            Ok(argv) if !argv.is_empty() => Some(Script { argv, user, span: Some(node.span()) }),
            Ok(_) => {
                self.error(cmd.span, format!("empty command for `{}`", node.name()));
                None
            }
            Err(e) => {
                self.error(cmd.span, format!("bad command for `{}`: {e}", node.name()));
                None
            }
        }
    }

    /// Optional `user [group]` starting at argument `from`.
    pub(super) fn user(&mut self, node: &Node, from: usize) -> Option<ScriptUser> {
        let user = node.args.get(from)?;
        let group = node.args.get(from + 1).map(|g| g.text.clone());
        self.extra(node, from + 2);
        Some(ScriptUser { user: user.text.clone(), group })
    }

    /// `KEYWORD PATH [user [group]]`.
    pub(super) fn fifo(&mut self, node: &Node) -> Option<Fifo> {
        self.no_block(node);
        let Some(path) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a path", node.name()));
            return None;
        };
        let user = self.user(node, 1);
        Some(Fifo { path: PathBuf::from(&path.text), user })
    }
}

/// Parses decimal seconds (`1`, `0.5`, `0.000001`) into microseconds
/// exactly, without floating point.
pub fn parse_micros(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) || frac.len() > 6 {
        return None;
    }
    let w: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut f: u64 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
    for _ in frac.len()..6 {
        f *= 10;
    }
    w.checked_mul(1_000_000)?.checked_add(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_seconds() {
        assert_eq!(parse_micros("1"), Some(1_000_000));
        assert_eq!(parse_micros("0.01"), Some(10_000));
        assert_eq!(parse_micros(".5"), Some(500_000));
        assert_eq!(parse_micros("3."), Some(3_000_000));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("0.0000001"), None);
        assert_eq!(parse_micros("1e3"), None);
        assert_eq!(parse_micros("-1"), None);
        assert_eq!(parse_micros("."), None);
        assert_eq!(parse_micros(""), None);
        assert_eq!(parse_micros("99999999999999999999"), None);
    }
}
