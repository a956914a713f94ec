//! `$NAME` parameters: definitions (`$NAME=VALUE`, continued with `\`),
//! references (`$NAME`, `${NAME}`, `${_RANDOM MIN MAX}`), the predefined
//! ones, and one substitution pass over a line with its limits. It does not
//! re-process the substituted line (the pipeline in `mod.rs` does, up to
//! [`MAX_SUBST_DEPTH`] times) nor tokenize it.

use super::chars::{is_blank, string, trim};
use super::keepalived_reading::mark_word_from;
use super::report::hinted;
use super::{Ch, Lexer};
use crate::config::diag::{Severity, Span};

/// Substitution passes allowed on one line; one more is reported as a loop.
pub const MAX_SUBST_DEPTH: usize = 16;

/// Longest line substitution may produce (keepalived's own buffer is far
/// smaller); stops exponential definitions like `$A=$B $B`.
const MAX_EXPANDED_LINE: usize = 64 * 1024;
/// Characters substitution may produce over a whole run (about 50,000
/// substituted lines of a real configuration), so that a small file whose
/// lines each expand to the per-line limit cannot take minutes or hundreds
/// of megabytes of tokens.
pub(super) const SUBST_BUDGET: usize = 1024 * 1024;

pub(super) struct Def {
    value: String,
    /// Defined with trailing `\`: each line of the value becomes a line.
    multiline: bool,
    /// keepalived reads the definition's text differently.
    differs: bool,
}

/// A `$NAME=...\` definition still collecting continuation lines.
pub(super) struct Pending {
    name: String,
    lines: Vec<String>,
    differs: bool,
}

pub(super) enum Subst {
    Unchanged,
    /// With the span of the first `$` replaced.
    Changed(Span),
    /// An error was reported; the line is dropped.
    Dropped,
}

/// What follows a `$`.
enum Ref {
    /// Starts no reference (`$1`, `$$`, `${ `): plain text, as in keepalived.
    Plain,
    /// `${NAME…` without a proper closing `}`.
    Malformed { end: usize },
    /// `$NAME` followed by a character after which keepalived does not
    /// substitute a bare name.
    Unterminated { name: String, end: usize, next: char },
    Ok {
        name: String,
        /// The numbers after the name, as written (blank when none).
        params: String,
        end: usize,
    },
}

impl Lexer<'_> {
    /// Step 3: a `$NAME=VALUE` line defines a parameter and is used up
    /// (true). A near miss, `$NAME =…`, is warned about at `warn_at`, where
    /// the line starts as written (before any `@ID`), and goes on.
    pub(super) fn define(&mut self, text: &[Ch], warn_at: Span) -> bool {
        if let Some((name, value_at)) = definition(text) {
            let value_chars = trim(text.get(value_at..).unwrap_or_default());
            let differs = value_chars.iter().any(|c| c.differs);
            let value = string(value_chars);
            match value.strip_suffix('\\') {
                Some(head) => {
                    let head = head.trim_end_matches(is_blank);
                    let lines = if head.is_empty() { Vec::new() } else { vec![head.to_string()] };
                    self.finish_pending();
                    self.pending = Some(Pending { name, lines, differs });
                }
                None => {
                    self.defs.insert(name, Def { value, multiline: false, differs });
                }
            }
            return true;
        }
        if let Some(name) = spaced_definition(text) {
            self.push(hinted(
                Severity::Warning,
                warn_at,
                format!("`${name} =` is not a parameter definition"),
                format!("no space is allowed before `=`: `${name}=VALUE`"),
            ));
        }
        false
    }

    pub(super) fn continue_pending(&mut self, text: &[Ch]) {
        let s = string(text);
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        p.differs |= text.iter().any(|c| c.differs);
        if s.is_empty() {
            // keepalived ends a multi-line definition at a blank line.
            self.finish_pending();
        } else if let Some(body) = s.strip_suffix('\\') {
            let body = body.trim_end_matches(is_blank);
            if !body.is_empty() {
                p.lines.push(body.to_string());
            }
        } else {
            p.lines.push(s);
            self.finish_pending();
        }
    }

    pub(super) fn finish_pending(&mut self) {
        if let Some(p) = self.pending.take() {
            let multiline = p.lines.len() > 1;
            self.defs.insert(p.name, Def { value: p.lines.join("\n"), multiline, differs: p.differs });
        }
    }

    /// One pass: every reference in `text` is replaced by its value; the
    /// values are not scanned again in this pass (the caller re-processes
    /// the result). References left as written are marked literal.
    pub(super) fn substitute(&mut self, text: &mut Vec<Ch>) -> Subst {
        if !text.iter().any(|c| c.c == '$' && !c.literal) {
            return Subst::Unchanged;
        }
        let mut out: Vec<Ch> = Vec::with_capacity(text.len());
        let mut changed: Option<Span> = None;
        // keepalived garbles the line after this character.
        let mut garbled: Option<usize> = None;
        // Quote state, only to tell whether `${_HASH}` is quoted.
        let mut quote: Option<char> = None;
        let mut escaped = false;
        let mut i = 0;
        while let Some(&ch) = text.get(i) {
            if ch.c != '$' || ch.literal {
                if !ch.literal {
                    match quote {
                        Some(_) if escaped => escaped = false,
                        Some(_) if ch.c == '\\' => escaped = true,
                        Some(q) if ch.c == q => quote = None,
                        None if matches!(ch.c, '"' | '\'') => quote = Some(ch.c),
                        _ => {}
                    }
                }
                out.push(ch);
                i += 1;
                continue;
            }
            escaped = false;
            let (end, value, differs) = match parse_ref(text, i) {
                Ref::Plain => {
                    out.push(ch);
                    i += 1;
                    continue;
                }
                Ref::Malformed { end } => {
                    let shown = string(text.get(i..end).unwrap_or_default());
                    self.push(hinted(
                        Severity::Warning,
                        ch.span,
                        format!("malformed parameter reference `{shown}`; left as is"),
                        "write `${NAME}` or `${_RANDOM MIN MAX}`".into(),
                    ));
                    (end, None, false)
                }
                Ref::Unterminated { name, end, next } => {
                    if self.def(&name).is_some() || is_predefined(&name) {
                        self.push(hinted(
                            Severity::Warning,
                            ch.span,
                            format!("`${name}` followed by `{next}` is not substituted"),
                            format!(
                                "keepalived substitutes a bare `$NAME` only before whitespace, `,`, `)` or the end \
                                     of the line; write `${{{name}}}`"
                            ),
                        ));
                    } else {
                        self.undefined(ch.span, &name);
                    }
                    (end, None, false)
                }
                Ref::Ok { name, params, end } => {
                    let value = self.resolve(text, ch.span, &name, &params, end);
                    let literal_char = matches!(name.as_str(), "_HASH" | "_BANG");
                    if value.is_some() && literal_char && quote.is_none() && self.def(&name).is_none() {
                        self.push(hinted(
                            Severity::Warning,
                            ch.span,
                            format!("unquoted `${{{name}}}` starts a comment in keepalived 2.2.7"),
                            "vipd keeps the character; put it inside quotes to mean the same to both".into(),
                        ));
                    }
                    let differs = self.def(&name).is_some_and(|d| d.differs);
                    if value.is_some() && has_params(&params) && end < text.len() {
                        // Measured: `${_RANDOM 5 5}x y` reads `5x_RANDOM`.
                        self.push(hinted(
                            Severity::Warning,
                            ch.span,
                            format!("keepalived 2.2.7 garbles the text after `${{{name}}}` with bounds"),
                            "put it last on its line".into(),
                        ));
                        garbled = garbled.or(Some(out.len() + value.as_ref().map_or(0, |v| v.chars().count())));
                    }
                    (end, value, differs)
                }
            };
            match value {
                Some(v) => {
                    out.extend(v.chars().map(|c| Ch { c, span: ch.span, literal: false, differs }));
                    changed = changed.or(Some(ch.span));
                }
                None => out.extend(text.get(i..end).unwrap_or_default().iter().map(|c| Ch { literal: true, ..*c })),
            }
            i = end.max(i + 1);
            if out.len() > MAX_EXPANDED_LINE {
                self.push(
                    hinted(Severity::Error, ch.span, format!(
                        "parameter substitution makes this line longer than {MAX_EXPANDED_LINE} characters; line ignored"
                    ), "check for a parameter that refers to itself more than once".into()),
                );
                return Subst::Dropped;
            }
        }
        match garbled {
            Some(at) if out.get(at).is_some_and(|c| is_blank(c.c)) => {
                out.get_mut(at..).unwrap_or_default().iter_mut().for_each(|c| c.differs = true);
            }
            Some(at) => mark_word_from(&mut out, at),
            None => {}
        }
        *text = out;
        let Some(first_span) = changed else {
            return Subst::Unchanged;
        };
        self.budget = self.budget.saturating_sub(text.len());
        if self.budget == 0 {
            if !self.budget_reported {
                self.budget_reported = true;
                let span = text.first().map_or_else(Span::default, |c| c.span);
                self.error(
                    span,
                    format!(
                        "parameter substitution produced more than {SUBST_BUDGET} characters in total; \
                     this and later substituted lines ignored"
                    ),
                );
            }
            return Subst::Dropped;
        }
        Subst::Changed(first_span)
    }

    /// The definition of `name`, if any: the one lookup, out of line so
    /// the hashing is not repeated at each use in the binary.
    #[inline(never)]
    fn def(&self, name: &str) -> Option<&Def> {
        self.defs.get(name)
    }

    /// The value of a well-formed reference, or `None` (after a diagnostic)
    /// when it stays as written.
    fn resolve(&mut self, text: &[Ch], span: Span, name: &str, params: &str, end: usize) -> Option<String> {
        if let Some((value, multiline)) = self.def(name).map(|d| (d.value.clone(), d.multiline)) {
            if has_params(params) {
                self.warn(span, format!("parameter `{name}` takes no arguments; left as is"));
                return None;
            }
            let rest_blank =
                text.get(end..).unwrap_or_default().iter().take_while(|c| c.c != '\n').all(|c| is_blank(c.c));
            if multiline && !rest_blank {
                self.push(hinted(
                    Severity::Error,
                    span,
                    format!("multi-line parameter `{name}` must be the last thing on its line"),
                    "keepalived does not substitute it elsewhere; move the text after it to the next line".into(),
                ));
                return None;
            }
            return Some(value);
        }
        if has_params(params) && name != "_RANDOM" && is_predefined(name) {
            self.warn(span, format!("parameter `{name}` takes no arguments; left as is"));
            return None;
        }
        let value = match name {
            "_PWD" => Ok(self.pwd()),
            "_INSTANCE" => Ok(self.config_id.to_string()),
            "_RANDOM" => self.random(params),
            "_HASH" => Ok("#".into()),
            "_BANG" => Ok("!".into()),
            _ => {
                self.undefined(span, name);
                return None;
            }
        };
        value.map_err(|m| self.error(span, format!("{m}; left as is"))).ok()
    }

    fn undefined(&mut self, span: Span, name: &str) {
        self.push(hinted(
            Severity::Warning,
            span,
            format!("undefined parameter `{name}`"),
            format!("the text is left as is, as keepalived does; define it with `${name}=VALUE` before its first use"),
        ));
    }

    fn pwd(&self) -> String {
        let dir = if self.dir.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            std::path::absolute(&self.dir).unwrap_or_else(|_| self.dir.clone())
        };
        dir.to_string_lossy().into_owned()
    }

    /// `${_RANDOM}`: 0..=32767; one number sets MIN, two set MIN and MAX.
    fn random(&mut self, params: &str) -> Result<String, String> {
        // Every number is checked before their count, as before.
        let (mut min, mut max, mut count) = (0, 32767, 0);
        for p in params.split_whitespace() {
            let v = p.parse::<u32>().map_err(|_| "`${_RANDOM}` bounds must be numbers up to 4294967295".to_string())?;
            match count {
                0 => min = v,
                1 => max = v,
                _ => {}
            }
            count += 1;
        }
        if count > 2 {
            return Err("`${_RANDOM}` takes at most two numbers, MIN and MAX".into());
        }
        if min > max {
            return Err(format!("`${{_RANDOM}}` MIN {min} is greater than MAX {max}"));
        }
        let range = u64::from(max - min) + 1;
        Ok((u64::from(min) + self.next_random() % range).to_string())
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: only needs to differ between runs, not be strong.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

pub(super) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

/// Whether a reference's parameter text holds any number.
fn has_params(params: &str) -> bool {
    params.split_whitespace().next().is_some()
}

fn is_predefined(name: &str) -> bool {
    matches!(name, "_PWD" | "_INSTANCE" | "_RANDOM" | "_HASH" | "_BANG")
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `$NAME=` at the start of `text`: the name and where the value starts.
fn definition(text: &[Ch]) -> Option<(String, usize)> {
    let (first, rest) = text.split_first()?;
    if first.c != '$' || first.literal {
        return None;
    }
    let len = rest.iter().take_while(|c| is_name_char(c.c) && !c.literal).count();
    let name = string(rest.get(..len)?);
    if !name.starts_with(is_name_start) {
        return None;
    }
    (rest.get(len)?.c == '=').then_some((name, len + 2))
}

/// `$NAME =…`: a near miss of a definition, worth a warning.
fn spaced_definition(text: &[Ch]) -> Option<String> {
    let (first, rest) = text.split_first()?;
    if first.c != '$' {
        return None;
    }
    let len = rest.iter().take_while(|c| is_name_char(c.c)).count();
    let name = string(rest.get(..len)?);
    let after = rest.get(len..)?;
    let blanks = after.iter().take_while(|c| is_blank(c.c)).count();
    let ok = name.starts_with(is_name_start) && blanks > 0 && after.get(blanks).is_some_and(|c| c.c == '=');
    ok.then_some(name)
}

/// Reads the reference starting at the `$` at `at`.
fn parse_ref(text: &[Ch], at: usize) -> Ref {
    let c = |i: usize| text.get(i).filter(|c| !c.literal).map(|c| c.c);
    let name_end = |from: usize| {
        let mut i = from;
        while c(i).is_some_and(is_name_char) {
            i += 1;
        }
        i
    };
    match c(at + 1) {
        Some('{') => {
            if !c(at + 2).is_some_and(is_name_start) {
                return Ref::Plain;
            }
            let mut i = name_end(at + 3);
            let name = string(text.get(at + 2..i).unwrap_or_default());
            let params_at = i;
            while c(i).is_some_and(|c| c == ' ' || c.is_ascii_digit()) {
                i += 1;
            }
            let raw = string(text.get(params_at..i).unwrap_or_default());
            // keepalived rejects parameters followed by a space.
            if c(i) != Some('}') || (raw.ends_with(' ') && !raw.trim().is_empty()) {
                // Keep the whole `${…}` together if it closes before a blank,
                // so its `}` does not become a brace token.
                let close = text.iter().skip(at).position(|c| c.c == '}' || is_blank(c.c)).map(|p| p + at);
                let end = match close {
                    Some(p) if text.get(p).is_some_and(|c| c.c == '}') => p + 1,
                    _ => i,
                };
                return Ref::Malformed { end: end.min(text.len()) };
            }
            Ref::Ok { name, params: raw, end: i + 1 }
        }
        Some(first) if is_name_start(first) => {
            let end = name_end(at + 2);
            let name = string(text.get(at + 1..end).unwrap_or_default());
            match text.get(end).map(|c| c.c) {
                None | Some(' ' | '\t' | ',' | ')' | '\n') => Ref::Ok { name, params: String::new(), end },
                Some(next) => Ref::Unterminated { name, end, next },
            }
        }
        _ => Ref::Plain,
    }
}
