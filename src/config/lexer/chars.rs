//! A physical line as [`Ch`]s: decoding its bytes (with the text policy in
//! the module notes), finding where vipd's comment starts, and small
//! helpers over such text. It reports nothing itself; the pipeline turns
//! what `decode` finds into diagnostics.

use super::Ch;
use crate::config::diag::{FileId, Span};

/// Whitespace between tokens; `\n` only appears inside multi-line values,
/// which are split before tokenizing.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

pub(super) fn string(text: &[Ch]) -> String {
    text.iter().map(|c| c.c).collect()
}

pub(super) fn trim(text: &[Ch]) -> &[Ch] {
    let keep = |c: &Ch| c.literal || !is_blank(c.c);
    let start = text.iter().position(keep).unwrap_or(text.len());
    let end = text.iter().rposition(keep).map_or(start, |e| e + 1);
    text.get(start..end).unwrap_or_default()
}

pub(super) fn contains(text: &[Ch], word: &str) -> bool {
    let n = word.chars().count();
    text.windows(n).any(|w| w.iter().map(|c| c.c).eq(word.chars()))
}

/// Characters in `raw`, an invalid sequence counting as one.
pub(super) fn char_count(raw: &[u8]) -> usize {
    raw.utf8_chunks().map(|c| c.valid().chars().count() + usize::from(!c.invalid().is_empty())).sum()
}

/// Decodes one physical line (without its `\n`). Also returns the index of
/// the first character that is not acceptable text, and why.
pub(super) fn decode(raw: &[u8], file: FileId, line: u32) -> (Vec<Ch>, Option<(usize, &'static str)>) {
    let mut chars = Vec::with_capacity(raw.len());
    let mut bad = None;
    let mut col: u32 = 0;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            col = col.saturating_add(1);
            if c == '\0' && bad.is_none() {
                bad = Some((chars.len(), "contains a NUL byte"));
            }
            chars.push(Ch { c, span: Span { file, line, col }, literal: false, differs: false });
        }
        if !chunk.invalid().is_empty() {
            col = col.saturating_add(1);
            if bad.is_none() {
                bad = Some((chars.len(), "is not valid UTF-8"));
            }
            let span = Span { file, line, col };
            chars.push(Ch { c: char::REPLACEMENT_CHARACTER, span, literal: false, differs: false });
        }
    }
    (chars, bad)
}

/// Index where a comment starts (or the length). Quotes protect `#` and
/// `!`; so does a `\` before them outside quotes (keepalived's escape).
/// Inside quotes `\` protects the next character, so `"a\"#"` is one string.
pub(super) fn comment_start(text: &[Ch]) -> usize {
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        match (quote, ch.c) {
            (Some(_), '\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\\') if text.get(i + 1).is_some_and(|n| matches!(n.c, '#' | '!')) => i += 1,
            (None, '"' | '\'') => quote = Some(ch.c),
            (None, '#' | '!') => return i,
            (None, _) => {}
        }
        i += 1;
    }
    text.len()
}
