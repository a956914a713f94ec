//! Characters that text copied from web pages and word processors carries
//! in place of ASCII: no-break and other Unicode spaces, zero-width
//! characters and byte order marks, curly quotes, full-width braces, and
//! CR line ends. It decides what each is read as and words one diagnostic
//! per kind per file (where it first appears, how many lines carry it, a
//! `sed` line that fixes the file); the pipeline in `mod.rs` calls it on
//! every physical line and once at the end of each file.
//!
//! Policy (vipd.conf(5), SYNTAX): each character is read as the ASCII it
//! imitates, so the rest of the file is checked as the author saw it and
//! one cause gives one diagnostic instead of one per line. Blanks and
//! invisible characters are then a warning: a space or nothing is what
//! the author saw, and the `sed` in the hint turns the file into exactly
//! what vipd read. Curly quotes and full-width braces are errors, so such
//! a file is never used: a web page curls the quotes of `"a 'b c'"` as
//! well as its apostrophes, so reading them as quotes could change what a
//! script line means. keepalived 2.2.7 (measured) reads all but CR as part
//! of a word, which gives "Unknown keyword" for an indented line, a lost
//! block after a byte order mark, and a `router_id` holding the quotes.

use core::fmt::Write as _;
use std::path::Path;

use super::Ch;
use super::chars::comment_start;
use super::report::hinted;
use crate::config::diag::{Diagnostic, Severity, Span};

/// One look-alike character.
pub(super) struct LookAlike {
    pub c: char,
    /// Its Unicode name.
    pub name: &'static str,
    /// What vipd reads it as; `None`: nothing (an invisible character).
    pub reads_as: Option<char>,
    /// Characters of one group share one diagnostic per file (both curly
    /// double quotes, both braces); each blank is a group of its own, since
    /// each has its own `sed`.
    pub group: u8,
    /// Refused (an error), or read with a warning.
    pub refused: bool,
}

const fn blank(c: char, name: &'static str, group: u8) -> LookAlike {
    LookAlike { c, name, reads_as: Some(' '), group, refused: false }
}

const fn invisible(c: char, name: &'static str, group: u8) -> LookAlike {
    LookAlike { c, name, reads_as: None, group, refused: false }
}

const fn refused(c: char, name: &'static str, ascii: char, group: u8) -> LookAlike {
    LookAlike { c, name, reads_as: Some(ascii), group, refused: true }
}

/// The group of CR line ends, which are bytes cut before decoding.
const CR_GROUP: u8 = 0;

pub(super) const LOOK_ALIKES: &[LookAlike] = &[
    blank('\u{00A0}', "NO-BREAK SPACE", 1),
    blank('\u{2000}', "EN QUAD", 2),
    blank('\u{2001}', "EM QUAD", 3),
    blank('\u{2002}', "EN SPACE", 4),
    blank('\u{2003}', "EM SPACE", 5),
    blank('\u{2004}', "THREE-PER-EM SPACE", 6),
    blank('\u{2005}', "FOUR-PER-EM SPACE", 7),
    blank('\u{2006}', "SIX-PER-EM SPACE", 8),
    blank('\u{2007}', "FIGURE SPACE", 9),
    blank('\u{2008}', "PUNCTUATION SPACE", 10),
    blank('\u{2009}', "THIN SPACE", 11),
    blank('\u{200A}', "HAIR SPACE", 12),
    blank('\u{202F}', "NARROW NO-BREAK SPACE", 13),
    blank('\u{205F}', "MEDIUM MATHEMATICAL SPACE", 14),
    blank('\u{3000}', "IDEOGRAPHIC SPACE", 15),
    invisible('\u{200B}', "ZERO WIDTH SPACE", 16),
    invisible('\u{2060}', "WORD JOINER", 17),
    invisible('\u{FEFF}', "ZERO WIDTH NO-BREAK SPACE", 18),
    refused('\u{201C}', "LEFT DOUBLE QUOTATION MARK", '"', 19),
    refused('\u{201D}', "RIGHT DOUBLE QUOTATION MARK", '"', 19),
    refused('\u{2018}', "LEFT SINGLE QUOTATION MARK", '\'', 20),
    refused('\u{2019}', "RIGHT SINGLE QUOTATION MARK", '\'', 20),
    refused('\u{FF5B}', "FULLWIDTH LEFT CURLY BRACKET", '{', 21),
    refused('\u{FF5D}', "FULLWIDTH RIGHT CURLY BRACKET", '}', 21),
];

pub(super) fn look_alike(c: char) -> Option<&'static LookAlike> {
    if c.is_ascii() {
        return None;
    }
    LOOK_ALIKES.iter().find(|l| l.c == c)
}

/// One group seen in a file: its first character and where, and on how
/// many lines.
struct Seen {
    first: &'static LookAlike,
    span: Span,
    lines: u32,
}

/// What one file holds, for its diagnostics at its end.
#[derive(Default)]
pub(super) struct Tally {
    seen: Vec<Seen>,
    /// First CR line end and how many lines end so.
    cr: Option<(Span, u32)>,
    /// Where the current physical line has refused characters.
    refused_here: Vec<Span>,
}

impl Tally {
    pub(super) fn cr_line_end(&mut self, span: Span) {
        match &mut self.cr {
            Some((_, n)) => *n = n.saturating_add(1),
            None => self.cr = Some((span, 1)),
        }
    }

    /// Reads the look-alikes of one decoded physical line as what they
    /// imitate (invisible ones are removed; the others keep their spans)
    /// and returns where the line's comment then starts. Counts those
    /// before it: a curly apostrophe in a comment is no one's business,
    /// while one read as a quote may protect a `#` from starting a comment.
    pub(super) fn read(&mut self, chars: &mut Vec<Ch>) -> usize {
        self.refused_here.clear();
        if chars.iter().all(|c| c.c.is_ascii()) {
            return comment_start(chars);
        }
        // Each look-alike with the index its text (or, for an invisible
        // one, the text after it) has once the invisible ones are gone.
        let mut found: Vec<(&'static LookAlike, Span, usize)> = Vec::new();
        let mut removed = 0;
        for (i, ch) in chars.iter_mut().enumerate() {
            let Some(l) = look_alike(ch.c) else { continue };
            found.push((l, ch.span, i - removed));
            match l.reads_as {
                Some(a) => ch.c = a,
                None => removed += 1,
            }
        }
        if removed > 0 {
            chars.retain(|c| look_alike(c.c).is_none_or(|l| l.reads_as.is_some()));
        }
        let cut = comment_start(chars);
        let mut on_line: Vec<u8> = Vec::new();
        for (l, span, at) in found {
            // An invisible one at `cut` stood before the comment.
            if at > cut || (at == cut && l.reads_as.is_some()) {
                break;
            }
            if l.refused {
                self.refused_here.push(span);
            }
            if !on_line.contains(&l.group) {
                on_line.push(l.group);
                match self.seen.iter_mut().find(|s| s.first.group == l.group) {
                    Some(s) => s.lines = s.lines.saturating_add(1),
                    None => self.seen.push(Seen { first: l, span, lines: 1 }),
                }
            }
        }
        cut
    }

    /// Whether the current physical line has a refused character.
    pub(super) fn refused_on_line(&self) -> bool {
        !self.refused_here.is_empty()
    }

    /// Whether a refused character of the current line is at `span`: the
    /// tokenizer's complaint about it (a lone curly apostrophe read as an
    /// unterminated `'`) would repeat the error that names the cause.
    pub(super) fn refused_at(&self, span: Option<Span>) -> bool {
        span.is_some_and(|s| self.refused_here.contains(&s))
    }

    /// One diagnostic per group seen, `path` being the file for the hint's
    /// `sed`.
    pub(super) fn diagnostics(&self, path: &Path) -> Vec<Diagnostic> {
        let file = shell_word(&path.display().to_string());
        let mut out = Vec::with_capacity(self.seen.len() + 1);
        if let Some((span, n)) = self.cr {
            out.push(
                hinted(Severity::Warning, span, format!("CR line ends (U+000D CARRIAGE RETURN before the line feed) on {}; read as line ends", lines(n)), format!(
                    "keepalived 2.2.7 reads them the same way, but scripts and other tools may not; to convert the file: sed -i 's/\\r$//' {file}"
                )),
            );
        }
        for s in &self.seen {
            let l = s.first;
            let what = format!("U+{:04X} {}", u32::from(l.c), l.name);
            let sed = format!("sed -i '{}' {file}", sed_script(l.group));
            let on = lines(s.lines);
            let d = if l.refused {
                let (not, group) = if matches!(l.reads_as, Some('{' | '}')) {
                    ("a brace", "full-width braces")
                } else if l.reads_as == Some('\'') {
                    ("a quote", "curly single quotes")
                } else {
                    ("a quote", "curly double quotes")
                };
                let ascii = l.reads_as.unwrap_or(' ');
                hinted(
                    Severity::Error,
                    s.span,
                    format!("{what} is not {not}; {group} on {on}"),
                    format!(
                        "keepalived 2.2.7 keeps it as part of a word, and reading it as {not} could change what a line means; the rest of the file was checked as if it were `{ascii}`; to write ASCII: {sed}"
                    ),
                )
            } else if l.reads_as.is_some() {
                hinted(
                    Severity::Warning,
                    s.span,
                    format!("{what} on {on}; read as a space"),
                    format!(
                        "keepalived 2.2.7 reads it as part of a word, so an indented keyword is unknown to it; to replace it: {sed}"
                    ),
                )
            } else if l.c == '\u{FEFF}' && s.span.line == 1 && s.span.col == 1 {
                hinted(
                    Severity::Warning,
                    s.span,
                    format!("byte order mark ({what}) at the start of the file, on {on}; ignored"),
                    format!(
                        "keepalived 2.2.7 reads it as part of the first keyword and loses that block; to remove it: {sed}"
                    ),
                )
            } else {
                hinted(
                    Severity::Warning,
                    s.span,
                    format!("invisible {what} on {on}; ignored"),
                    format!("keepalived 2.2.7 reads it as part of a word; to remove it: {sed}"),
                )
            };
            out.push(d);
        }
        out
    }
}

fn lines(n: u32) -> String {
    if n == 1 { "1 line".into() } else { format!("{n} lines") }
}

/// The `sed` expressions replacing every character of `group` with what
/// vipd reads it as (GNU sed's `\xHH`, which works in any locale; `\x27`
/// for `'`, which cannot appear inside the shell's single quotes).
fn sed_script(group: u8) -> String {
    if group == CR_GROUP {
        return "s/\\r$//".into();
    }
    // Written into one String: no String per byte or per part.
    let mut out = String::new();
    for l in LOOK_ALIKES.iter().filter(|l| l.group == group) {
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str("s/");
        let mut buf = [0; 4];
        for b in l.c.encode_utf8(&mut buf).bytes() {
            let _ = write!(out, "\\x{b:02x}");
        }
        out.push('/');
        match l.reads_as {
            None => {}
            Some('\'') => out.push_str("\\x27"),
            Some(a) => out.push(a),
        }
        out.push_str("/g");
    }
    out
}

/// `s` as one shell word: as is when it has only safe characters, else in
/// single quotes.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c)) {
        s.to_owned()
    } else {
        let mut out = String::new();
        super::tokens::push_single_quoted(&mut out, s);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, l) in LOOK_ALIKES.iter().enumerate() {
            assert!(!l.c.is_ascii() && l.group != CR_GROUP);
            assert!(LOOK_ALIKES.iter().skip(i + 1).all(|o| o.c != l.c), "{:?} twice", l.c);
            // A group is read one way, so its diagnostic has one severity.
            let same = LOOK_ALIKES.iter().filter(|o| o.group == l.group);
            assert!(same.clone().all(|o| o.refused == l.refused), "group {}", l.group);
            assert!(!l.refused || same.count() == 2, "refused kinds are pairs");
            // Only the refused ones may read as something that is not blank.
            assert!(l.refused || matches!(l.reads_as, None | Some(' ')));
        }
    }

    #[test]
    fn sed_scripts_and_shell_words() {
        assert_eq!(sed_script(1), r"s/\xc2\xa0/ /g");
        assert_eq!(sed_script(18), r"s/\xef\xbb\xbf//g");
        assert_eq!(sed_script(20), r"s/\xe2\x80\x98/\x27/g; s/\xe2\x80\x99/\x27/g");
        assert_eq!(shell_word("/etc/keepalived/keepalived.conf"), "/etc/keepalived/keepalived.conf");
        assert_eq!(shell_word("/tmp/my conf/it's"), r"'/tmp/my conf/it'\''s'");
    }
}
