//! Where keepalived 2.2.7 reads a line differently from vipd, outside the
//! tokenizer: its own comment stripping (once per physical line, again
//! after a substitution) and its 1023-byte line buffer.
//! It only marks characters as `differs` (so their tokens are not
//! [`Token::verbatim`](super::Token::verbatim)); it never changes the text
//! vipd reads.

use super::Ch;
use super::chars::is_blank;

/// keepalived 2.2.7 reads lines with `fgets()` into a 1024-byte buffer: the
/// bytes of a physical line past the first 1023 become a line of their own.
const KEEPALIVED_LINE_BYTES: usize = 1023;

/// Marks the characters of a physical line (`chars`, vipd's comment
/// starting at `cut`) that keepalived 2.2.7 reads differently or not at all:
/// where its own comment stripping differs from vipd's, bytes past its
/// 1023-byte line buffer (read as a line of their own). Look-alike
/// characters (see `pasted`) are already read as what they imitate, with a
/// diagnostic of their own that says how keepalived reads them.
pub(super) fn mark_keepalived_reading(chars: &mut [Ch], cut: usize) {
    let mut bytes = 0;
    if let Some(at) = chars.iter().position(|c| {
        bytes += c.c.len_utf8();
        bytes > KEEPALIVED_LINE_BYTES
    }) && at < cut
    {
        mark_word_from(chars, at);
    }
    // Without `\` or `'` both strip the same comment.
    if chars.iter().any(|c| matches!(c.c, '\\' | '\'')) {
        let k = keepalived_kept(chars, false);
        let v = vipd_kept(chars.get(..cut).unwrap_or_default());
        mark_difference(chars, &k, &v);
    }
}

/// Marks where keepalived's second comment stripping, on a line that had a
/// substitution, differs from vipd's reading (vipd strips comments once):
/// an unquoted `#` or `!` from `${_HASH}`, or from a `\#` keepalived had
/// already unescaped, starts a comment there.
pub(super) fn mark_keepalived_redecomment(text: &mut [Ch]) {
    if text.iter().any(|c| matches!(c.c, '\\' | '\'' | '#' | '!')) {
        let k = keepalived_kept(text, true);
        let v = vipd_kept(text);
        mark_difference(text, &k, &v);
    }
}

/// The indices of `text` that keepalived 2.2.7's `decomment()` keeps, in
/// order, without blanks at either end. It knows `"` quotes only, cuts at
/// the first unquoted `#` or `!`, unescapes `\#` and `\!` outside quotes,
/// steps over the character after any other `\`, and keeps a `\` ending
/// the line (its continuation mark) right after the text before it, blanks
/// between dropped. `again`: the pass after substitution, where a `\#` the
/// first pass unescaped is a plain `#`, so a comment.
fn keepalived_kept(text: &[Ch], again: bool) -> Vec<usize> {
    let mut quote = false;
    let mut cut: Option<usize> = None;
    let mut cont = None;
    let mut unescaped = vec![false; text.len()];
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        match ch.c {
            '"' if cut.is_none() => quote = !quote,
            '\\' => match text.get(i + 1) {
                None => {
                    cont = Some(i);
                    break;
                }
                Some(n) if !quote && matches!(n.c, '#' | '!') => {
                    if again {
                        cut = cut.or(Some(i));
                    } else if let Some(u) = unescaped.get_mut(i) {
                        *u = true;
                    }
                    i += 1;
                }
                Some(_) => i += 1,
            },
            '#' | '!' if !quote => cut = cut.or(Some(i)),
            _ => {}
        }
        i += 1;
    }
    let end = cut.unwrap_or(text.len()).min(cont.unwrap_or(text.len()));
    let mut kept: Vec<usize> = (0..end).filter(|&j| !unescaped.get(j).copied().unwrap_or(false)).collect();
    trim_indices(text, &mut kept);
    kept.extend(cont);
    kept
}

/// The indices of `text` vipd's tokenizer reads, without blanks at either
/// end: all but the `\` of an unquoted `\#` or `\!`.
fn vipd_kept(text: &[Ch]) -> Vec<usize> {
    let mut quote: Option<char> = None;
    let mut kept = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        if !ch.literal {
            match (quote, ch.c) {
                (Some(_), '\\') if i + 1 < text.len() => {
                    kept.push(i);
                    i += 1;
                }
                (Some(q), c) if c == q => quote = None,
                (None, '\\') if text.get(i + 1).is_some_and(|n| matches!(n.c, '#' | '!')) => {
                    i += 1;
                    continue;
                }
                (None, c @ ('"' | '\'')) => quote = Some(c),
                _ => {}
            }
        }
        kept.push(i);
        i += 1;
    }
    trim_indices(text, &mut kept);
    kept
}

fn trim_indices(text: &[Ch], kept: &mut Vec<usize>) {
    let blank = |j: &usize| text.get(*j).is_some_and(|c| is_blank(c.c));
    while kept.last().is_some_and(blank) {
        kept.pop();
    }
    let lead = kept.iter().take_while(|j| blank(j)).count();
    kept.drain(..lead);
}

/// Marks `text` from the word where keepalived's reading `k` and vipd's
/// `v` (indices into `text`) first differ. A `\` ending the line that both
/// keep is compared as keepalived places it; the tokenizer marks the word
/// it joins.
fn mark_difference(text: &mut [Ch], k: &[usize], v: &[usize]) {
    let mut v = v.to_vec();
    if let (Some(&kc), Some(&vc)) = (k.last(), v.last())
        && kc == vc
        && text.get(kc).is_some_and(|c| c.c == '\\')
    {
        v.pop();
        trim_indices(text, &mut v);
        v.push(vc);
    }
    let first = k.iter().zip(&v).position(|(a, b)| a != b).unwrap_or(k.len().min(v.len()));
    let blank = |j: usize| text.get(j).is_some_and(|c| is_blank(c.c));
    match (k.get(first), v.get(first)) {
        (None, None) => {}
        (Some(&a), Some(&b)) => mark_word_from(text, a.min(b)),
        // keepalived stops between words: the words before read the same.
        (None, Some(&j)) if blank(j) => text.get_mut(j..).unwrap_or_default().iter_mut().for_each(|c| c.differs = true),
        (None, Some(&j)) => mark_word_from(text, j),
        // keepalived reads more words than vipd.
        (Some(&a), None) if blank(a) => {}
        // keepalived reads more of vipd's last word.
        (Some(_), None) => mark_word_from(text, v.last().map_or(0, |&j| j + 1)),
    }
}

/// Marks `text` from the start of the word holding (or ending just before)
/// index `at` to its end.
pub(super) fn mark_word_from(text: &mut [Ch], at: usize) {
    let mut start = at.min(text.len());
    while start > 0 && text.get(start - 1).is_some_and(|c| !is_blank(c.c)) {
        start -= 1;
    }
    for c in text.get_mut(start..).unwrap_or_default() {
        c.differs = true;
    }
}
