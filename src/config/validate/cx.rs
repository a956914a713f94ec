//! The validation context every block reader shares: where diagnostics
//! go, the check of a keyword against its block's table, and the shape
//! of a keyword line (a block or not, how many arguments, tokens
//! keepalived would read differently). It must not know any block's
//! keywords or read values (`values` reads them).

use crate::config::diag::{Diagnostic, Span};
use crate::config::keywords::{self, Support};
use crate::config::lexer::Token;
use crate::config::parse::Node;

pub(super) struct Cx<'a> {
    pub(super) diags: &'a mut Vec<Diagnostic>,
    /// The preference the next rule without one gets (keepalived's count,
    /// shared by every rule block of the file, in file order).
    pub(super) next_rule_pref: (u32, u32),
}

impl Cx<'_> {
    pub(super) fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    pub(super) fn error_hint(&mut self, span: Span, msg: impl Into<String>, hint: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg).with_hint(hint));
    }

    pub(super) fn warn(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, msg));
    }

    /// Checks `node`'s keyword against `table`; `Some(true)` when vipd
    /// implements it.
    pub(super) fn known(&mut self, node: &Node, table: &[(&str, Support)], block: &str) -> bool {
        if node.name() == "{" && !node.keyword.quoted {
            // A block without a keyword, already reported by the parser.
            return false;
        }
        match keywords::lookup(table, node.name()) {
            Some(Support::Yes) => {
                let script = SCRIPT_KEYWORDS.contains(&node.name());
                self.verbatim(node, script);
                true
            }
            Some(Support::Ignored(why)) => {
                self.warn(node.span(), format!("`{}` is not implemented by vipd and is ignored: {why}", node.name()));
                false
            }
            Some(Support::Refused(why)) => {
                self.error(node.span(), format!("`{}` is not implemented by vipd: {why}", node.name()));
                false
            }
            None => {
                let msg = format!("unknown keyword `{}` in {block}", node.name());
                match keywords::suggest(table, block, node.name()) {
                    Some(h) => self.error_hint(node.span(), msg, h),
                    None => self.error(node.span(), msg),
                }
                false
            }
        }
    }

    /// Refuses tokens keepalived's tokenizer reads differently from vipd's
    /// (single quotes, escapes, quotes joined to text): outside script
    /// commands keepalived groups words with `"` only and reads `\` and `'`
    /// literally, so the same file would mean something else there. The
    /// first argument of a script keyword gets keepalived's shell-like
    /// second pass, which vipd reproduces.
    pub(super) fn verbatim(&mut self, node: &Node, skip_command: bool) {
        let args = node.args.iter().enumerate().filter(|(i, _)| !(skip_command && *i == 0)).map(|(_, t)| t);
        for t in core::iter::once(&node.keyword).chain(args) {
            if !t.verbatim {
                self.error_hint(
                    t.span,
                    format!("keepalived 2.2.7 reads `{}` differently here", t.text),
                    "outside script commands it groups words only with double quotes and takes `'` and `\\` literally; write the value without them",
                );
            }
        }
    }

    pub(super) fn no_block(&mut self, node: &Node) {
        if let Some(b) = &node.block {
            self.error(b.open, format!("`{}` does not take a block", node.name()));
        }
    }

    pub(super) fn block<'n>(&mut self, node: &'n Node) -> &'n [Node] {
        if node.block.is_none() {
            self.error_hint(
                node.span(),
                format!("`{}` needs a block", node.name()),
                format!("{} {{ … }}", node.name()),
            );
        }
        node.children()
    }

    /// The single argument of `node`; extra tokens are an error (keepalived
    /// silently ignores them, which hides `;`-separated statements).
    pub(super) fn one<'n>(&mut self, node: &'n Node) -> Option<&'n Token> {
        self.no_block(node);
        let Some(first) = node.args.first() else {
            self.error(node.span(), format!("`{}` needs a value", node.name()));
            return None;
        };
        self.extra(node, 1);
        Some(first)
    }

    pub(super) fn extra(&mut self, node: &Node, from: usize) {
        if let Some(t) = node.args.get(from) {
            let hint = if t.text == ";" || t.text.starts_with(';') {
                "`;` does not separate statements: put each on its own line"
            } else {
                "keepalived ignores the rest of the line; vipd refuses it"
            };
            self.error_hint(t.span, format!("unexpected `{}` after `{}`", t.text, node.name()), hint);
        }
    }

    pub(super) fn none(&mut self, node: &Node) {
        self.no_block(node);
        self.extra(node, 0);
    }
}

/// Keywords whose first argument is a command line (split into argv).
const SCRIPT_KEYWORDS: &[&str] = &[
    "script",
    "notify",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify_master_rx_lower_pri",
    "notify_fifo_script",
    "vrrp_notify_fifo_script",
];

pub(super) fn name_of(node: &Node) -> String {
    node.args.first().map(|t| t.text.clone()).unwrap_or_default()
}

pub(super) fn block_name(cx: &mut Cx<'_>, node: &Node) -> Option<String> {
    match node.args.first() {
        Some(n) => {
            cx.extra(node, 1);
            Some(n.text.clone())
        }
        None => {
            cx.error(node.span(), format!("`{}` needs a name", node.name()));
            None
        }
    }
}
