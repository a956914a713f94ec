//! Include patterns to paths: csh brace expansion (`{a,b}`) and a glob(3)
//! subset (`*`, `?`, `[...]`, `\x`) matched one path component at a time,
//! with bounds on the work. It reports failures as messages and reads only
//! directory listings and existence; it never reads a file's contents.

use std::ffi::OsString;
#[cfg(not(fuzzing))]
use std::fs;
use std::path::{Path, PathBuf};

/// Patterns one include may expand to through `{a,b}`.
const MAX_BRACE_ALTERNATIVES: usize = 256;
/// Expansion steps one include's braces may take.
const MAX_BRACE_STEPS: usize = 4096;

/// Paths one include may match.
pub(super) const MAX_GLOB_MATCHES: usize = 4096;

/// csh brace expansion: `a{b,c{d,e}}f` -> `abf`, `acdf`, `acef`, in order.
pub(super) fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let mut work = vec![pattern.to_string()];
    let mut steps = 0;
    while let Some(p) = work.pop() {
        let Some((open, commas, close)) = find_braces(&p)? else {
            done.push(p);
            continue;
        };
        steps += 1;
        if steps > MAX_BRACE_STEPS || work.len() + done.len() + commas.len() >= MAX_BRACE_ALTERNATIVES {
            return Err(format!("braces expand to more than {MAX_BRACE_ALTERNATIVES} patterns"));
        }
        let pre = p.get(..open).unwrap_or_default();
        let post = p.get(close + 1..).unwrap_or_default();
        let mut from = open + 1;
        let mut alts = Vec::new();
        for &to in commas.iter().chain(std::iter::once(&close)) {
            alts.push(p.get(from..to).unwrap_or_default());
            from = to + 1;
        }
        // Reversed onto a stack, so the first alternative comes out first.
        work.extend(alts.iter().rev().map(|alt| format!("{pre}{alt}{post}")));
    }
    Ok(done)
}

/// Byte offsets of the first `{`, its top-level commas and its `}`.
fn find_braces(p: &str) -> Result<Option<(usize, Vec<usize>, usize)>, String> {
    let bytes = p.as_bytes();
    let mut open = None;
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 1,
            b'{' => {
                if open.is_none() {
                    open = Some(i);
                }
                depth += 1;
            }
            b',' if depth == 1 => commas.push(i),
            b'}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Ok(open.map(|o| (o, commas, i)));
                }
            }
            _ => {}
        }
        i += 1;
    }
    if open.is_some() { Err("unbalanced `{`".into()) } else { Ok(None) }
}

/// The existing paths matching `pattern` (relative to `base` unless
/// absolute); wildcards work within each path component.
pub(super) fn glob(pattern: &str, base: &Path) -> Result<Vec<PathBuf>, String> {
    let (mut cands, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (vec![PathBuf::from("/")], rest),
        None => (vec![base.to_path_buf()], pattern),
    };
    for comp in rest.split('/') {
        if comp.is_empty() || comp == "." {
            continue;
        }
        if comp.contains(['*', '?', '[']) {
            let pat = GlobPattern::parse(comp);
            let mut next = Vec::new();
            for dir in &cands {
                // Unsorted: the include sorts the whole match list by bytes,
                // as glob(3) does, which a per-directory order cannot give.
                let names = list_dir(dir).into_iter().filter(|n| pat.matches(&n.to_string_lossy()));
                next.extend(names.map(|n| dir.join(n)));
                if next.len() > MAX_GLOB_MATCHES {
                    return Err(format!("matches more than {MAX_GLOB_MATCHES} paths"));
                }
            }
            cands = next;
        } else {
            let literal = unescape_glob(comp);
            for c in &mut cands {
                c.push(&literal);
            }
        }
        if cands.is_empty() {
            break;
        }
    }
    cands.retain(|p| exists(p));
    Ok(cands)
}

#[cfg(not(fuzzing))]
fn list_dir(dir: &Path) -> Vec<OsString> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.file_name()).collect()).unwrap_or_default()
}

#[cfg(not(fuzzing))]
fn exists(p: &Path) -> bool {
    fs::metadata(p).is_ok()
}

// The fuzzer must never read the real file system (`include /proc/kmsg`
// would block): it matches against made-up names and finds nothing.
#[cfg(fuzzing)]
fn list_dir(_dir: &Path) -> Vec<OsString> {
    ["a.conf", ".hidden.conf", "b-1.conf", "[x]", "x"].into_iter().map(OsString::from).collect()
}

#[cfg(fuzzing)]
fn exists(_p: &Path) -> bool {
    false
}

fn unescape_glob(comp: &str) -> String {
    let mut out = String::with_capacity(comp.len());
    let mut it = comp.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

enum GlobTok {
    Lit(char),
    Any,
    Star,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl GlobTok {
    fn matches(&self, c: char) -> bool {
        match self {
            GlobTok::Lit(l) => *l == c,
            GlobTok::Any => true,
            GlobTok::Star => false,
            GlobTok::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated,
        }
    }
}

/// One path component of a glob: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, `\x`.
pub(super) struct GlobPattern {
    toks: Vec<GlobTok>,
}

impl GlobPattern {
    fn parse(comp: &str) -> GlobPattern {
        let chars: Vec<char> = comp.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            i += 1;
            match c {
                '\\' => {
                    toks.push(GlobTok::Lit(chars.get(i).copied().unwrap_or('\\')));
                    i += 1;
                }
                '*' => {
                    if !matches!(toks.last(), Some(GlobTok::Star)) {
                        toks.push(GlobTok::Star);
                    }
                }
                '?' => toks.push(GlobTok::Any),
                '[' => match parse_class(&chars, i) {
                    Some((tok, next)) => {
                        toks.push(tok);
                        i = next;
                    }
                    // No closing `]`: a plain `[`, as in glob(3).
                    None => toks.push(GlobTok::Lit('[')),
                },
                c => toks.push(GlobTok::Lit(c)),
            }
        }
        GlobPattern { toks }
    }

    fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // A leading `.` must be matched by a literal `.`, as in glob(3).
        if name.first() == Some(&'.') && !matches!(self.toks.first(), Some(GlobTok::Lit('.'))) {
            return false;
        }
        // Greedy match, backtracking to the last `*`: O(pattern × name).
        let (mut p, mut s) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(&c) = name.get(s) {
            match self.toks.get(p) {
                Some(GlobTok::Star) => {
                    star = Some((p, s));
                    p += 1;
                    continue;
                }
                Some(t) if t.matches(c) => {
                    p += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
            match star {
                Some((sp, ss)) => {
                    star = Some((sp, ss + 1));
                    p = sp + 1;
                    s = ss + 1;
                }
                None => return false,
            }
        }
        self.toks.get(p..).unwrap_or_default().iter().all(|t| matches!(t, GlobTok::Star))
    }
}

/// A `[...]` class whose contents start at `i`; the token and the index
/// after its `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(GlobTok, usize)> {
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !first {
            return Some((GlobTok::Class { negated, ranges }, i + 1));
        }
        first = false;
        let lo = if c == '\\' {
            i += 1;
            *chars.get(i)?
        } else {
            c
        };
        i += 1;
        match (chars.get(i), chars.get(i + 1)) {
            (Some('-'), Some(&hi)) if hi != ']' => {
                ranges.push((lo, hi));
                i += 2;
            }
            _ => ranges.push((lo, lo)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        let m = |p: &str, n: &str| GlobPattern::parse(p).matches(n);
        assert!(m("*.conf", "a.conf"));
        assert!(!m("*.conf", "a.conf.bak"));
        assert!(!m("*.conf", ".hidden.conf"));
        assert!(m(".*.conf", ".hidden.conf"));
        assert!(!m("?a", ".a"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("[abc]x", "bx") && !m("[abc]x", "dx"));
        assert!(m("[a-c][!0-9]", "bz") && !m("[a-c][!0-9]", "b5"));
        assert!(m("[^a]", "b") && !m("[^a]", "a"));
        assert!(m("[]]", "]") && m("[!]]", "a"));
        assert!(m("[a-]", "-"));
        assert!(m("a[", "a[") && m("\\*", "*") && !m("\\*", "x"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("**", "") && m("*", "anything"));
        assert!(m("é?", "éü"));
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(expand_braces("a{b,c{d,e}}f").unwrap(), vec!["abf", "acdf", "acef"]);
        assert_eq!(expand_braces("{x,y}{1,2}").unwrap(), vec!["x1", "x2", "y1", "y2"]);
        assert_eq!(expand_braces("{,a}b").unwrap(), vec!["b", "ab"]);
        assert_eq!(expand_braces("plain}").unwrap(), vec!["plain}"]);
        assert_eq!(expand_braces(r"\{a,b}").unwrap(), vec![r"\{a,b}"]);
        assert!(expand_braces("a{b,c").is_err());
        assert!(expand_braces(&"{a,b}".repeat(9)).is_err());
        assert!(expand_braces(&"{a}".repeat(2000)).is_ok());
    }
}
