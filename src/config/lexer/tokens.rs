//! Text to tokens: quotes, escapes inside quotes, `{` / `}` as tokens of
//! their own, and each token's [`Token::verbatim`] against keepalived's
//! general tokenizer; also [`split_argv`], keepalived's second, shell-like
//! pass over a script, which shares the escapes. It gets comment-free,
//! substituted text and decides nothing about lines or files.

use super::chars::is_blank;
use super::report::hinted;
use super::{Ch, Token};
use crate::config::diag::{Diagnostic, Severity, Span};

/// Splits comment-free text into tokens; with `braces`, an unquoted `{` or
/// `}` is a token of its own. Also decides [`Token::verbatim`], comparing
/// with keepalived's general tokenizer (`alloc_strvec()`): blanks separate
/// words, a word starting with `"` runs to the next `"` whatever comes
/// between, any other word ends at a blank or a `"`; nothing else is
/// special.
pub(super) fn tokenize(text: &[Ch], braces: bool, diags: &mut Vec<Diagnostic>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut cur: Option<Token> = None;
    // The current token's last part is a quoted string, which ends a word
    // for keepalived.
    let mut after_quote = false;
    let mut i = 0;
    while let Some(ch) = text.get(i) {
        i += 1;
        if ch.literal {
            let tok = unquoted_part(&mut cur, &mut after_quote, ch);
            tok.text.push(ch.c);
            // Kept as written for vipd, but keepalived splits or quotes there.
            tok.verbatim &= !(is_blank(ch.c) || matches!(ch.c, '"' | '{' | '}'));
            continue;
        }
        match ch.c {
            c if is_blank(c) || c == '\n' => {
                tokens.extend(cur.take());
                after_quote = false;
            }
            '{' | '}' if braces => {
                tokens.extend(cur.take());
                after_quote = false;
                tokens.push(Token { text: ch.c.to_string(), span: ch.span, quoted: false, verbatim: !ch.differs });
            }
            '\\' if text.get(i).is_some_and(|n| matches!(n.c, '#' | '!')) => {
                if let Some(n) = text.get(i) {
                    let tok = unquoted_part(&mut cur, &mut after_quote, ch);
                    tok.text.push(n.c);
                    tok.verbatim &= !n.differs;
                }
                i += 1;
            }
            q @ ('"' | '\'') => {
                let open = i - 1;
                let joined = cur.is_some();
                let tok = cur.get_or_insert_with(|| Token {
                    text: String::new(),
                    span: ch.span,
                    quoted: true,
                    verbatim: true,
                });
                tok.quoted = true;
                let mut closed = false;
                let mut escaped = false;
                while let Some(n) = text.get(i) {
                    i += 1;
                    if n.literal {
                        tok.text.push(n.c);
                    } else if n.c == q {
                        closed = true;
                        break;
                    } else if n.c == '\\' {
                        let (next, known) = escape(text, i, &mut tok.text, n.span, diags);
                        i = next;
                        escaped |= known;
                    } else {
                        tok.text.push(n.c);
                    }
                }
                // keepalived quotes with `"` only, resolves no escape,
                // starts a quoted word only at a word's start, and ends it
                // at any `"`.
                let part = text.get(open..i).unwrap_or_default();
                tok.verbatim &= q == '"'
                    && closed
                    && !joined
                    && !escaped
                    && !part.iter().any(|c| c.differs || (c.literal && c.c == '"'));
                after_quote = true;
                if !closed {
                    diags.push(hinted(
                        Severity::Error,
                        ch.span,
                        format!("unterminated `{q}` quote"),
                        format!("the string runs to the end of the line; add the closing `{q}`"),
                    ));
                }
            }
            c => unquoted_part(&mut cur, &mut after_quote, ch).text.push(c),
        }
    }
    tokens.extend(cur);
    // keepalived moves a `\` ending the line next to the text before it:
    // `a \` is its word `a\`.
    if let [.., before, last] = text
        && last.c == '\\'
        && !last.literal
        && is_blank(before.c)
        && let Some(t) = tokens.len().checked_sub(2).and_then(|n| tokens.get_mut(n))
    {
        t.verbatim = false;
    }
    let mut same = true;
    for t in &mut tokens {
        // keepalived cannot tell a quoted brace from a brace.
        if t.quoted && (t.text == "{" || t.text == "}") {
            t.verbatim = false;
        }
        // Once a word differs, keepalived may split the rest of the line
        // into other words.
        same &= t.verbatim;
        t.verbatim = same;
    }
    tokens
}

/// The token an unquoted character `ch` belongs to, started if need be.
fn unquoted_part<'a>(cur: &'a mut Option<Token>, after_quote: &mut bool, ch: &Ch) -> &'a mut Token {
    let tok = cur.get_or_insert_with(|| Token { text: String::new(), span: ch.span, quoted: false, verbatim: true });
    // Text right after a quoted part is a word of its own for keepalived.
    if std::mem::take(after_quote) {
        tok.verbatim = false;
    }
    tok.verbatim &= !ch.differs;
    tok
}

/// Resolves the escape whose `\` was just read inside quotes (`i` indexes
/// the character after it); returns the index after the escape and whether
/// it was a known escape (an unknown one is kept as written).
fn escape(text: &[Ch], i: usize, out: &mut String, span: Span, diags: &mut Vec<Diagnostic>) -> (usize, bool) {
    if let Some((e, used)) = known_escape(|k| text.get(i + k).map(|c| c.c)) {
        out.push(e);
        return (i + used, true);
    }
    out.push('\\');
    let Some(e) = text.get(i).map(|c| c.c) else { return (i, false) };
    diags.push(hinted(
        Severity::Warning,
        span,
        format!("unknown escape `\\{e}`; kept as is"),
        "write `\\\\` for a backslash; in a script, keepalived's second pass drops the `\\`".into(),
    ));
    out.push(e);
    (i + 1, false)
}

/// Decodes the escape after a `\`, `c(0)` being the character after it:
/// the character it stands for and how many characters it used, or `None`
/// if it is not a known escape. Numeric escapes give a byte, which as text
/// is the Latin-1 character. `\xHH` takes at most two digits, as keepalived
/// documents (2.2.7 itself takes all following hex digits and keeps the
/// low byte).
fn known_escape(c: impl Fn(usize) -> Option<char>) -> Option<(char, usize)> {
    let e = c(0)?;
    let simple = match e {
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'E' => Some('\x1b'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        '\\' | '"' | '\'' => Some(e),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s, 1));
    }
    let digits = |from: usize, max: usize, radix: u32| {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max
            && let Some(d) = c(from + n).and_then(|d| d.to_digit(radix))
        {
            v = v * radix + d;
            n += 1;
        }
        (v, n)
    };
    match e {
        'x' => {
            let (v, n) = digits(1, 2, 16);
            (n > 0).then(|| (char::from((v & 0xff) as u8), 1 + n))
        }
        '0'..='7' => {
            let (v, n) = digits(0, 3, 8);
            // `\400`..`\777` keep their low byte, as C's char does in keepalived.
            Some((char::from((v & 0xff) as u8), n))
        }
        'c' => c(1).map(|ctl| (char::from_u32(u32::from(ctl) & 0x1f).unwrap_or('\0'), 2)),
        _ => None,
    }
}

/// Appends `s` in shell single quotes, a `'` in it written `'\\''`: the
/// one quoting routine of hints and dumps.
pub(crate) fn push_single_quoted(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
}

/// Splits a script string into argv respecting quotes:
/// `/bin/echo 'a b' c` -> `["/bin/echo", "a b", "c"]`.
///
/// This is keepalived 2.2.7's second pass over a script (measured):
/// whitespace separates words; `"…"` and `'…'` group them and join
/// adjacent text; escapes (`\n`, `\xHH`, `\nnn`, `\cC`, …) work inside
/// both kinds of quotes and outside them, and `\` before any other
/// character stands for that character. The lexer has already resolved the
/// escapes of the quoted config token once, so, as in keepalived, a script
/// goes through two levels of escapes: `"a\\\\b"` in the file is `a\b`.
/// Err(message) on an unterminated quote or a trailing lone `\`.
pub fn split_argv(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match (quote, c) {
            (_, '\\') => {
                let arg = cur.get_or_insert_with(String::new);
                match known_escape(|k| chars.get(i + k).copied()) {
                    Some((e, used)) => {
                        arg.push(e);
                        i += used;
                    }
                    None => match chars.get(i) {
                        Some(&e) => {
                            arg.push(e);
                            i += 1;
                        }
                        None => return Err("ends with a lone `\\`".into()),
                    },
                }
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (None, c) if is_blank(c) || c == '\n' => args.extend(cur.take()),
            (None, c) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated `{q}` quote"));
    }
    args.extend(cur);
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_argv_cases() {
        assert_eq!(split_argv("/bin/echo 'a b' c").unwrap(), vec!["/bin/echo", "a b", "c"]);
        assert_eq!(split_argv("  /bin/echo \"a b\"\tc  ").unwrap(), vec!["/bin/echo", "a b", "c"]);
        assert_eq!(
            split_argv(r#"x "a \"q\" \\ $" 'it\'s' b\ c \d"#).unwrap(),
            vec!["x", r#"a "q" \ $"#, "it's", "b c", "d"]
        );
        assert_eq!(split_argv(r"'x\x41y' \101\t").unwrap(), vec!["xAy", "A\t"]);
        assert_eq!(split_argv("a'b'\"c\"d '' \"\"").unwrap(), vec!["abcd", "", ""]);
        assert_eq!(split_argv("a\nb").unwrap(), vec!["a", "b"]);
        assert_eq!(split_argv("").unwrap(), Vec::<String>::new());
        assert_eq!(split_argv("   ").unwrap(), Vec::<String>::new());
        assert_eq!(split_argv("echo 'a b").unwrap_err(), "unterminated `'` quote");
        assert_eq!(split_argv("echo \"a b").unwrap_err(), "unterminated `\"` quote");
        assert!(split_argv("echo \"a\\").is_err());
        assert!(split_argv("echo a\\").is_err());
    }
}
