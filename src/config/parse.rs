//! Lines of tokens → a tree of `keyword args… [{ children }]` nodes.
//!
//! Only structure is checked here (stray or missing braces); keywords are
//! checked against the table by `validate`.

use super::diag::{Diagnostic, Span};
use super::lexer::{Line, Token};

/// Deepest nesting of blocks accepted.
pub const MAX_DEPTH: usize = 16;

/// One statement: `keyword [args…]` with an optional block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub keyword: Token,
    pub args: Vec<Token>,
    pub block: Option<Block>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// Where the `{` is.
    pub open: Span,
    pub children: Vec<Node>,
}

impl Node {
    pub fn span(&self) -> Span {
        self.keyword.span
    }

    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    /// Children, or none for a node without a block.
    pub fn children(&self) -> &[Node] {
        self.block.as_ref().map_or(&[], |b| b.children.as_slice())
    }
}

/// Builds the tree. `{` may end a statement's line, start the next line
/// (attaching to the statement just before), or be followed by more
/// statements on the same line; `}` may appear anywhere. Text after `{` or
/// `}` on a line is a new statement, as in keepalived.
pub fn parse(lines: &[Line], diags: &mut Vec<Diagnostic>) -> Vec<Node> {
    // Open blocks: the nodes whose blocks are being filled, innermost last.
    let mut stack: Vec<Node> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    // The statement ended most recently, if it may still take a `{` that
    // starts the next line, with the line it ended on.
    let mut prev_line_end: Option<u32> = None;
    // Line of the last token of any kind, for the commented-out-keyword hint.
    let mut last_line: Option<u32> = None;
    // `{` past MAX_DEPTH: reported once, their contents kept one level up,
    // and the matching `}` consumed. keepalived needs four levels; this
    // stops a file of braces from nesting (and dropping) recursively.
    let mut overflow: u32 = 0;

    for line in lines {
        let mut stmt: Vec<Token> = Vec::new();
        let line_no = line.tokens.first().map_or(0, |t| t.span.line);
        let gap_before = last_line.is_none_or(|l| l + 1 < line_no);
        if let Some(t) = line.tokens.last() {
            last_line = Some(t.span.line);
        }
        for tok in &line.tokens {
            if tok.quoted || (tok.text != "{" && tok.text != "}") {
                stmt.push(tok.clone());
                continue;
            }
            if tok.text == "{" && stack.len() >= MAX_DEPTH {
                if overflow == 0 {
                    diags.push(Diagnostic::error(tok.span, format!("blocks nested more than {MAX_DEPTH} deep")));
                }
                overflow += 1;
                if !stmt.is_empty() {
                    push(&mut stack, &mut top, statement(std::mem::take(&mut stmt)));
                }
                continue;
            }
            if tok.text == "}" && overflow > 0 {
                overflow -= 1;
                if !stmt.is_empty() {
                    push(&mut stack, &mut top, statement(std::mem::take(&mut stmt)));
                }
                continue;
            }
            if tok.text == "{" {
                if !stmt.is_empty() {
                    let node = statement(std::mem::take(&mut stmt));
                    stack.push(Node { block: Some(Block { open: tok.span, children: Vec::new() }), ..node });
                } else if let Some(node) = take_open_candidate(&mut stack, &mut top, prev_line_end, line_no) {
                    stack.push(Node { block: Some(Block { open: tok.span, children: Vec::new() }), ..node });
                } else {
                    let mut d = Diagnostic::error(tok.span, "`{` without a keyword before it");
                    if gap_before && line.tokens.first().is_some_and(|f| f.span.col == tok.span.col) {
                        d = d.with_hint(
                            "the line before is a comment or blank: did you comment out the block's keyword?",
                        );
                    }
                    diags.push(d);
                    // Parse the contents anyway so their own errors are
                    // reported, and so its `}` does not close the parent.
                    let anon = Token { text: "{".into(), span: tok.span, quoted: false, verbatim: tok.verbatim };
                    stack.push(Node {
                        keyword: anon,
                        args: Vec::new(),
                        block: Some(Block { open: tok.span, children: Vec::new() }),
                    });
                }
                prev_line_end = None;
            } else {
                if !stmt.is_empty() {
                    push(&mut stack, &mut top, statement(std::mem::take(&mut stmt)));
                }
                match stack.pop() {
                    Some(node) => push(&mut stack, &mut top, node),
                    None => diags.push(Diagnostic::error(tok.span, "`}` without a block to close")),
                }
                prev_line_end = None;
            }
        }
        if !stmt.is_empty() {
            push(&mut stack, &mut top, statement(stmt));
            prev_line_end = Some(line_no);
        }
    }
    while let Some(node) = stack.pop() {
        let open = node.block.as_ref().map_or(node.span(), |b| b.open);
        diags.push(
            Diagnostic::error(open, format!("block `{}` is never closed", node.name()))
                .with_hint("add the missing `}`"),
        );
        push(&mut stack, &mut top, node);
    }
    top
}

fn statement(mut tokens: Vec<Token>) -> Node {
    let keyword = tokens.remove(0);
    Node { keyword, args: tokens, block: None }
}

fn push(stack: &mut [Node], top: &mut Vec<Node>, node: Node) {
    match stack.last_mut().and_then(|n| n.block.as_mut()) {
        Some(b) => b.children.push(node),
        None => top.push(node),
    }
}

/// A `{` at the start of a line belongs to the statement on the line just
/// before, if that statement has no block yet.
fn take_open_candidate(
    stack: &mut [Node],
    top: &mut Vec<Node>,
    prev_line_end: Option<u32>,
    line_no: u32,
) -> Option<Node> {
    let prev = prev_line_end?;
    if prev + 1 != line_no {
        return None;
    }
    let siblings = match stack.last_mut().and_then(|n| n.block.as_mut()) {
        Some(b) => &mut b.children,
        None => top,
    };
    if siblings.last().is_some_and(|n| n.block.is_none()) { siblings.pop() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diag::FileId;

    fn lines(src: &str) -> Vec<Line> {
        src.lines()
            .enumerate()
            .filter_map(|(n, l)| {
                let mut tokens = Vec::new();
                let mut col = 0;
                for w in l.split(' ') {
                    col += 1;
                    if !w.is_empty() {
                        let span = Span { file: FileId(0), line: n as u32 + 1, col };
                        tokens.push(Token { text: w.into(), span, quoted: false, verbatim: true });
                    }
                    col += w.chars().count() as u32;
                }
                (!tokens.is_empty()).then_some(Line { tokens })
            })
            .collect()
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.name().to_owned();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(b) = &n.block {
                    s.push_str(&format!(" {{{}}}", shape(&b.children)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn run(src: &str) -> (String, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let t = parse(&lines(src), &mut d);
        (shape(&t), d)
    }

    #[test]
    fn brace_positions() {
        let (s, d) = run("a x {\n b 1\n}\nc\n{\n d\n}\ne { f 2 }\ng { h { i } j }");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(s, "a x {b 1}; c {d}; e {f 2}; g {h {i}; j}");
        // Text after `{` on the same line is a new statement.
        let (s, _) = run("vrrp_instance X { interface eth0\n priority 5\n}");
        assert_eq!(s, "vrrp_instance X {interface eth0; priority 5}");
    }

    #[test]
    fn stray_braces() {
        let (s, d) = run("a {\n}\n}\nb");
        assert_eq!(s, "a {}; b");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].span.map(|s| (s.line, s.col)), Some((3, 1)));
        assert!(d[0].message.contains("`}` without a block"));

        // A `{` whose keyword line was commented out (so not in the lines).
        let (s, d) = run("a {\n b 1\n}\n\n{\n c\n}\nz");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("`{` without a keyword"));
        assert!(d[0].hint.as_deref().unwrap_or("").contains("comment out"));
        assert_eq!(s, "a {b 1}; { {c}; z", "the orphan's `}}` does not close anything else");
    }

    #[test]
    fn unclosed_block() {
        let (s, d) = run("a {\n b {\n c");
        assert_eq!(s, "a {b {c}}");
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|d| d.message.contains("never closed")));
    }

    #[test]
    fn deep_nesting_is_capped_not_recursed() {
        let src = "a {\n".repeat(100_000);
        let (_, d) = run(&src);
        assert_eq!(d.iter().filter(|d| d.message.contains("nested more than")).count(), 1);
        assert_eq!(d.iter().filter(|d| d.message.contains("never closed")).count(), MAX_DEPTH);
        let src = format!("{}{}", "b {\n".repeat(40), "}\n".repeat(40));
        let (s, d) = run(&src);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(s.starts_with("b {b {"));
    }
}
