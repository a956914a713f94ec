//! The lexer's tests, through its whole pipeline (`lex`, `read_config`)
//! since most behaviours come from several steps together; the glob and
//! `split_argv` unit tests sit beside their code.

use super::include::MAX_FILES_READ;
use super::*;

const ID: &str = "main";

fn lex_as(text: &str, id: &str) -> (Vec<Line>, Vec<Diagnostic>) {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let opts = LexOptions { config_id: id.into() };
    let lines = lex_str(Path::new("/nonexistent/vipd-lexer/k.conf"), text, &opts, &mut sources, &mut diags);
    (lines, diags)
}

fn lex(text: &str) -> (Vec<Line>, Vec<Diagnostic>) {
    lex_as(text, ID)
}

fn words(lines: &[Line]) -> Vec<Vec<&str>> {
    lines.iter().map(|l| l.tokens.iter().map(|t| t.text.as_str()).collect()).collect()
}

fn spans(line: &Line) -> Vec<(u32, u32)> {
    line.tokens.iter().map(|t| (t.span.line, t.span.col)).collect()
}

fn at(line: u32, col: u32) -> Span {
    Span { file: FileId(0), line, col }
}

/// Lexes `text` expecting no diagnostics.
fn clean(text: &str) -> Vec<Line> {
    let (lines, diags) = lex(text);
    assert!(diags.is_empty(), "unexpected diagnostics: {diags:#?}");
    lines
}

fn has(diags: &[Diagnostic], sev: Severity, span: Span, needle: &str) -> bool {
    diags.iter().any(|d| d.severity == sev && d.span == Some(span) && d.message.contains(needle))
}

// ---- comments, whitespace, quotes, braces ----

#[test]
fn comments_anywhere() {
    let lines = clean("# top\n! bang\nrouter_id a#b\npriority 5 ! five\n   \n\t# indented\nx!y z");
    assert_eq!(words(&lines), vec![vec!["router_id", "a"], vec!["priority", "5"], vec!["x"]]);
    assert_eq!(spans(&lines[0]), vec![(3, 1), (3, 11)]);
    assert_eq!(spans(&lines[2]), vec![(7, 1)]);
}

#[test]
fn backslash_protects_comment_chars() {
    let lines = clean(r"router_id a\#b\!c d");
    assert_eq!(words(&lines), vec![vec!["router_id", "a#b!c", "d"]]);
}

#[test]
fn quoted_hash_and_bang_are_kept() {
    let lines = clean("router_id \"a#b!c\" # real comment\nx 'd#e'");
    assert_eq!(words(&lines), vec![vec!["router_id", "a#b!c"], vec!["x", "d#e"]]);
    let t = &lines[0].tokens[1];
    assert!(t.quoted);
    assert_eq!(t.span, at(1, 11));
    assert!(!lines[0].tokens[0].quoted);
}

#[test]
fn whitespace_kinds_and_crlf() {
    let lines = clean("a\tb\x0cc  d\re");
    assert_eq!(words(&lines), vec![vec!["a", "b", "c", "d", "e"]]);
    assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 3), (1, 5), (1, 8), (1, 10)]);
    // CR line ends are line ends, with one warning for the file at the
    // first one.
    let (lines, diags) = lex("a\r\nb\n\r\n  e \r\r\n");
    assert_eq!(words(&lines), vec![vec!["a"], vec!["b"], vec!["e"]]);
    assert_eq!(spans(&lines[2]), vec![(4, 3)]);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(has(
        &diags,
        Severity::Warning,
        at(1, 2),
        "CR line ends (U+000D CARRIAGE RETURN before the line feed) on 3 lines"
    ));
}

#[test]
fn pasted_look_alikes_read_as_what_they_imitate() {
    // Blanks are spaces, invisible characters are nothing, columns stay
    // those of the file; one diagnostic per kind, at its first place.
    let (lines, diags) = lex(
        "\u{a0}\u{a0}a\u{a0}b\u{3000}c\n\u{a0}x\u{200b}y z\u{feff}\n# \u{a0} \u{201c}\nq \u{201c}a#b\u{201d} \u{ff5b}\n\u{2019}",
    );
    assert_eq!(words(&lines), vec![vec!["a", "b", "c"], vec!["xy", "z"], vec!["q", "a#b", "{"], vec![""]]);
    assert_eq!(spans(&lines[0]), vec![(1, 3), (1, 5), (1, 7)]);
    assert_eq!(spans(&lines[1]), vec![(2, 2), (2, 6)]);
    let shown: Vec<_> =
        diags.iter().map(|d| (d.severity, d.span.map(|s| (s.line, s.col)), d.message.as_str())).collect();
    assert_eq!(
        shown,
        vec![
            (Severity::Warning, Some((1, 1)), "U+00A0 NO-BREAK SPACE on 2 lines; read as a space"),
            (Severity::Warning, Some((1, 6)), "U+3000 IDEOGRAPHIC SPACE on 1 line; read as a space"),
            (Severity::Warning, Some((2, 3)), "invisible U+200B ZERO WIDTH SPACE on 1 line; ignored"),
            (Severity::Warning, Some((2, 7)), "invisible U+FEFF ZERO WIDTH NO-BREAK SPACE on 1 line; ignored"),
            (
                Severity::Error,
                Some((4, 3)),
                "U+201C LEFT DOUBLE QUOTATION MARK is not a quote; curly double quotes on 1 line"
            ),
            (
                Severity::Error,
                Some((4, 9)),
                "U+FF5B FULLWIDTH LEFT CURLY BRACKET is not a brace; full-width braces on 1 line"
            ),
            (
                Severity::Error,
                Some((5, 1)),
                "U+2019 RIGHT SINGLE QUOTATION MARK is not a quote; curly single quotes on 1 line"
            ),
        ]
    );
    // Per file: an included file has its own.
    let dir = TempDir::new("pasted");
    dir.write("inc.conf", "\u{a0}y\n");
    dir.write("top.conf", "\u{a0}x\ninclude inc.conf\n\u{a0}z\n");
    let (lines, diags, _) = dir.read("top.conf");
    assert_eq!(words(&lines), vec![vec!["x"], vec!["y"], vec!["z"]]);
    let shown: Vec<_> = diags.iter().map(|d| (d.span.map(|s| (s.file, s.line)), d.message.as_str())).collect();
    assert_eq!(
        shown,
        vec![
            (Some((FileId(1), 1)), "U+00A0 NO-BREAK SPACE on 1 line; read as a space"),
            (Some((FileId(0), 1)), "U+00A0 NO-BREAK SPACE on 2 lines; read as a space"),
        ]
    );
}

#[test]
fn columns_count_characters() {
    let lines = clean("név ünïcode x");
    assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 5), (1, 13)]);
}

#[test]
fn quotes_join_adjacent_text() {
    let lines = clean("a\"b c\"d 'x'\"y\" \"\" e");
    assert_eq!(words(&lines), vec![vec!["ab cd", "xy", "", "e"]]);
    let t = &lines[0].tokens;
    assert!(t[0].quoted && t[1].quoted && t[2].quoted && !t[3].quoted);
    assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 9), (1, 16), (1, 19)]);
}

#[test]
fn quotes_of_the_other_kind_are_plain() {
    let lines = clean(r#"notify "/bin/echo 'a b' c" 'say "hi"'"#);
    assert_eq!(words(&lines), vec![vec!["notify", "/bin/echo 'a b' c", "say \"hi\""]]);
}

#[test]
fn escapes_in_quotes() {
    let lines = clean(r#"x "a\tb\nc\\d\"e\'f\x41\101\cAg\E\a\b\f\v\r" 'q\'r' "\x4" "\0" "\400""#);
    assert_eq!(
        words(&lines),
        vec![vec!["x", "a\tb\nc\\d\"e'fAA\x01g\x1b\x07\x08\x0c\x0b\r", "q'r", "\x04", "\0", "\0"]]
    );
}

#[test]
fn escapes_outside_quotes_are_plain_text() {
    let (lines, diags) = lex(r"x a\tb c\");
    assert_eq!(words(&lines), vec![vec!["x", r"a\tb", r"c\"]]);
    // keepalived 2.2.7 gives `c\` too; a `\` there is likely a mistaken
    // line continuation.
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Warning, at(1, 9), "does not continue"));
    assert!(clean("x \"a\\\\\"").len() == 1);
}

#[test]
fn unknown_escape_kept_with_warning() {
    let (lines, diags) = lex(r#"x "a\db" "\x""#);
    assert_eq!(words(&lines), vec![vec!["x", r"a\db", r"\x"]]);
    assert_eq!(diags.len(), 2);
    assert!(has(&diags, Severity::Warning, at(1, 5), "unknown escape `\\d`"));
    assert!(has(&diags, Severity::Warning, at(1, 11), "unknown escape `\\x`"));
}

#[test]
fn unterminated_quote() {
    let (lines, diags) = lex("router_id \"abc def # not a comment\nnext 'x y\n");
    assert_eq!(words(&lines), vec![vec!["router_id", "abc def # not a comment"], vec!["next", "x y"]]);
    assert!(lines[0].tokens[1].quoted);
    assert_eq!(diags.len(), 2);
    assert!(has(&diags, Severity::Error, at(1, 11), "unterminated `\"` quote"));
    assert!(has(&diags, Severity::Error, at(2, 6), "unterminated `'` quote"));
}

#[test]
fn braces_are_tokens() {
    let lines = clean("block{\n}x\na{b}c\n\"{\" '}'\n{}");
    assert_eq!(
        words(&lines),
        vec![vec!["block", "{"], vec!["}", "x"], vec!["a", "{", "b", "}", "c"], vec!["{", "}"], vec!["{", "}"]]
    );
    assert_eq!(spans(&lines[0]), vec![(1, 1), (1, 6)]);
    assert_eq!(spans(&lines[2]), vec![(3, 1), (3, 2), (3, 3), (3, 4), (3, 5)]);
    assert!(lines[3].tokens.iter().all(|t| t.quoted));
    assert!(lines[4].tokens.iter().all(|t| !t.quoted));
}

#[test]
fn one_line_block() {
    let lines = clean("  virtual_ipaddress { 10.1.1.2 }");
    assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{", "10.1.1.2", "}"]]);
    assert_eq!(spans(&lines[0]), vec![(1, 3), (1, 21), (1, 23), (1, 32)]);
    assert_eq!(lines[0].span(), at(1, 3));
}

#[test]
fn text_policy_invalid_utf8_and_nul() {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let bytes = b"a \xff b\nc # caf\xe9\nd \0\ne";
    let lines =
        lex_bytes(Path::new("/x/k.conf"), bytes, &LexOptions { config_id: ID.into() }, &mut sources, &mut diags);
    assert_eq!(words(&lines), vec![vec!["c"], vec!["e"]]);
    assert_eq!(diags.len(), 2);
    assert!(has(&diags, Severity::Error, at(1, 3), "not valid UTF-8"));
    assert!(has(&diags, Severity::Error, at(3, 3), "NUL"));
}

#[test]
fn byte_order_mark() {
    let (lines, diags) = lex("\u{feff}global_defs {");
    assert_eq!(words(&lines), vec![vec!["global_defs", "{"]]);
    assert_eq!(spans(&lines[0]), vec![(1, 2), (1, 14)]);
    assert_eq!(diags.len(), 1);
    assert!(has(
        &diags,
        Severity::Warning,
        at(1, 1),
        "byte order mark (U+FEFF ZERO WIDTH NO-BREAK SPACE) at the start"
    ));
}

// ---- keepalived's own reading (Token::verbatim) ----

/// Each line's tokens with their verbatim flags.
fn verbatim(text: &str) -> Vec<Vec<(String, bool)>> {
    let (lines, _) = lex(text);
    lines.iter().map(|l| l.tokens.iter().map(|t| (t.text.clone(), t.verbatim)).collect()).collect()
}

/// The second token of the last line: its text and verbatim flag.
fn value(text: &str) -> (String, bool) {
    let lines = verbatim(text);
    let line = lines.last().expect("a line");
    assert!(line[0].1, "keyword not verbatim in {text:?}: {line:?}");
    line[1].clone()
}

fn v(text: &str, verbatim: bool) -> (String, bool) {
    (text.to_string(), verbatim)
}

/// Measured with keepalived 2.2.7 (`router_id VALUE`, `keepalived -d`):
/// its general tokenizer knows `"` only, resolves no escape and splits
/// `a"b c"d` into `a`, `b c`, `d`.
#[test]
fn verbatim_matches_keepalived_tokenizer() {
    assert_eq!(value("x plain"), v("plain", true));
    assert_eq!(value("x \"a b\""), v("a b", true));
    assert_eq!(value("x ''"), v("", false));
    assert_eq!(value("x \"\""), v("", true));
    // keepalived: `'a` then `b'`.
    assert_eq!(value("x 'a b'"), v("a b", false));
    // keepalived: `a\x41`.
    assert_eq!(value(r#"x "a\x41""#), v("aA", false));
    assert_eq!(value(r#"x "a\\b""#), v(r"a\b", false));
    assert_eq!(value(r#"x "a\"b" c"#), v("a\"b", false));
    // Unknown escapes are kept as written, as keepalived reads them.
    assert_eq!(value(r#"x "a\db""#), v(r"a\db", true));
    assert_eq!(value(r"x a\tb"), v(r"a\tb", true));
    // keepalived: `a` (then `b c`, `d`).
    assert_eq!(value(r#"x a"b c""#), v("ab c", false));
    assert_eq!(value(r#"x a"b c"d"#), v("ab cd", false));
    assert_eq!(value(r#"x "a"b"#), v("ab", false));
    assert_eq!(value(r#"x "a""b""#), v("ab", false));
    // keepalived: `'a`, its comment starting at `#`.
    assert_eq!(value("x 'a#b'"), v("a#b", false));
    assert_eq!(value("x \"a#b\" # c"), v("a#b", true));
    assert_eq!(value("x \"a!b\""), v("a!b", true));
    assert_eq!(value(r"x a\#b"), v("a#b", true));
    assert_eq!(value(r"x a\!b"), v("a!b", true));
    assert_eq!(value(r#"x "a\#b""#), v(r"a\#b", true));
    // keepalived: `a\\`, its comment starting at `#`.
    assert_eq!(value(r"x a\\#b"), v(r"a\#b", false));
    assert_eq!(value(r"x a\\\#b"), v(r"a\\#b", true));
    assert_eq!(value("x it's"), v("its", false));
    // keepalived cannot tell a quoted brace from a brace.
    assert_eq!(value("x \"{\""), v("{", false));
    assert_eq!(value("x \"{y}\""), v("{y}", true));
}

#[test]
fn verbatim_words_after_a_differing_one() {
    assert_eq!(verbatim("x 'a' b c"), vec![vec![v("x", true), v("a", false), v("b", false), v("c", false)]]);
    assert_eq!(verbatim("x \"a\" b"), vec![vec![v("x", true), v("a", true), v("b", true)]]);
    assert_eq!(
        verbatim("x { 'a' }\ny"),
        vec![vec![v("x", true), v("{", true), v("a", false), v("}", false)], vec![v("y", true)]]
    );
    // keepalived moves a line-ending `\` next to the word before it and
    // keeps it when a comment comes first: `a\` both times.
    let (lines, _) = lex("x a \\\ny a # c \\\nz a\\");
    let got: Vec<Vec<(String, bool)>> =
        lines.iter().map(|l| l.tokens.iter().map(|t| (t.text.clone(), t.verbatim)).collect()).collect();
    assert_eq!(
        got,
        vec![
            vec![v("x", true), v("a", false), v("\\", false)],
            vec![v("y", true), v("a", false)],
            vec![v("z", true), v("a\\", true)]
        ]
    );
}

/// keepalived strips comments again after substituting, after having
/// unescaped `\#` (measured).
#[test]
fn verbatim_after_substitution() {
    // keepalived: `a`.
    assert_eq!(value("$A=a\\#b\nx $A"), v("a#b", false));
    assert_eq!(value("$X=1\nx a\\#b $X"), v("a#b", false));
    assert_eq!(verbatim("$X=1\nx $X a\\#b"), vec![vec![v("x", true), v("1", true), v("a#b", false)]]);
    assert_eq!(value("$A=\"a\\#b\"\nx $A"), v(r"a\#b", true));
    assert_eq!(value("$A=\"a b\"\nx $A"), v("a b", true));
    assert_eq!(value("$A=v\nx ${A}w"), v("vw", true));
    assert_eq!(value("$A='a#b'\nx $A"), v("a#b", false));
    assert_eq!(value("$A=a\\\\#b\nx $A"), v(r"a\#b", false));
    assert_eq!(value("x \"a${_HASH}b\""), v("a#b", true));
    assert_eq!(verbatim("x a${_HASH}b c"), vec![vec![v("x", true), v("a#b", false), v("c", false)]]);
    assert_eq!(verbatim("x a ${_BANG}b"), vec![vec![v("x", true), v("a", true), v("!b", false)]]);
    // An undefined `${Y}` stays; keepalived splits its braces off.
    assert_eq!(value("x a${Y}b"), v("a${Y}b", false));
    assert_eq!(value("x \"a${Y}b\""), v("a${Y}b", true));
    // keepalived garbles what follows `${_RANDOM MIN MAX}`.
    assert_eq!(value("x ${_RANDOM 5 5}"), v("5", true));
    assert_eq!(value("x ${_RANDOM 5 5}y"), v("5y", false));
    let (lines, diags) = lex("x ${_RANDOM 5 5} y");
    assert_eq!(lines[0].tokens.iter().map(|t| t.verbatim).collect::<Vec<_>>(), vec![true, true, false]);
    assert!(has(&diags, Severity::Warning, at(1, 3), "garbles"));
}

#[test]
fn verbatim_line_buffer_and_bom() {
    // keepalived reads bytes past the first 1023 of a line as a new line.
    let fits = format!("x {}", "a".repeat(1021));
    assert_eq!(value(&fits), (fits[2..].to_string(), true));
    let long = format!("x {} y", "a".repeat(1022));
    let lines = verbatim(&long);
    assert_eq!(lines[0].iter().map(|t| t.1).collect::<Vec<_>>(), vec![true, false, false]);
    let lines = verbatim(&format!("x # {}\ny", "c".repeat(2000)));
    assert_eq!(lines, vec![vec![v("x", true)], vec![v("y", true)]]);
    // A byte order mark, which keepalived keeps as part of the first word,
    // has a warning of its own (see `pasted`) and is not read.
    let lines = verbatim("\u{feff}global_defs {\nx");
    assert_eq!(lines, vec![vec![v("global_defs", true), v("{", true)], vec![v("x", true)]]);
}

// ---- conditionals ----

#[test]
fn conditionals_select_by_config_id() {
    let text = "@main priority 200\n@backup priority 100\n@^main state BACKUP\n  @^backup state MASTER\nall";
    let (main, d1) = lex_as(text, "main");
    let (backup, d2) = lex_as(text, "backup");
    let (other, d3) = lex_as(text, "other");
    assert!(d1.is_empty() && d2.is_empty() && d3.is_empty());
    assert_eq!(words(&main), vec![vec!["priority", "200"], vec!["state", "MASTER"], vec!["all"]]);
    assert_eq!(words(&backup), vec![vec!["priority", "100"], vec!["state", "BACKUP"], vec!["all"]]);
    assert_eq!(words(&other), vec![vec!["state", "BACKUP"], vec!["state", "MASTER"], vec!["all"]]);
    assert_eq!(spans(&main[0]), vec![(1, 7), (1, 16)]);
    assert_eq!(spans(&main[1]), vec![(4, 12), (4, 18)]);
}

#[test]
fn conditional_before_definition() {
    let text = "@main $PRIO=240\n@^main $PRIO=100\npriority $PRIO";
    let (main, d1) = lex_as(text, "main");
    let (backup, d2) = lex_as(text, "backup");
    assert!(d1.is_empty() && d2.is_empty());
    assert_eq!(words(&main), vec![vec!["priority", "240"]]);
    assert_eq!(words(&backup), vec![vec!["priority", "100"]]);
}

#[test]
fn conditional_oddities() {
    let (lines, diags) = lex("@main\n@ x y\n@main # only a comment\n@mainx a");
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 3);
    assert!(has(&diags, Severity::Warning, at(1, 1), "nothing after its id"));
    assert!(has(&diags, Severity::Error, at(2, 1), "config id"));
    assert!(has(&diags, Severity::Warning, at(3, 1), "nothing after its id"));
}

#[test]
fn conditional_produced_by_substitution() {
    let text = "$ONLY_MAIN=@main\n$ONLY_MAIN priority 1\n$ONLY_MAIN\tpriority 2";
    assert_eq!(words(&lex_as(text, "main").0), vec![vec!["priority", "1"], vec!["priority", "2"]]);
    assert!(lex_as(text, "backup").0.is_empty());
}

// ---- parameters ----

#[test]
fn parameter_with_spaces_makes_several_tokens() {
    let lines = clean("$ADDRS=10.0.0.1 10.0.0.2   # two\nvirtual_ipaddress { $ADDRS }");
    assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{", "10.0.0.1", "10.0.0.2", "}"]]);
    assert_eq!(spans(&lines[0]), vec![(2, 1), (2, 19), (2, 21), (2, 21), (2, 28)]);
}

#[test]
fn braced_parameter_inside_a_word() {
    let lines = clean("$N=7\ninterface eth${N}.10\nx \"id ${N}\" $N,$N) a${N}");
    assert_eq!(words(&lines), vec![vec!["interface", "eth7.10"], vec!["x", "id 7", "7,7)", "a7"]]);
    assert_eq!(spans(&lines[0]), vec![(2, 1), (2, 11)]);
}

#[test]
fn parameter_value_is_re_tokenized() {
    let lines = clean("$S=\"a b\" {c\nx $S");
    assert_eq!(words(&lines), vec![vec!["x", "a b", "{", "c"]]);
    assert!(lines[0].tokens[1].quoted);
    assert!(lines[0].tokens.iter().skip(1).all(|t| t.span == at(2, 3)));
}

#[test]
fn parameter_substitution_is_recursive_and_at_use_time() {
    let (lines, diags) = lex("x $A\n$A=${B}-$C and\n$B=b\n$C=${B}c\ny $A\n$B=B\nz $A");
    assert_eq!(words(&lines), vec![vec!["x", "$A"], vec!["y", "b-bc", "and"], vec!["z", "B-Bc", "and"]]);
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Warning, at(1, 3), "undefined parameter `A`"));
    assert_eq!(spans(&lines[1]), vec![(5, 1), (5, 3), (5, 3)]);
}

#[test]
fn substitution_depth_limit() {
    // 16 nested levels work; the 17th is a loop.
    let mut ok = String::new();
    for i in 1..16 {
        ok.push_str(&format!("$P{i}=$P{}\n", i + 1));
    }
    ok.push_str("$P16=deep\nx $P1\n");
    assert_eq!(words(&clean(&ok)), vec![vec!["x", "deep"]]);

    let too_deep = ok.replace("$P16=deep", "$P16=$P17\n$P17=deeper");
    let (lines, diags) = lex(&too_deep);
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Error, at(18, 3), "parameter substitution loop"));
}

#[test]
fn substitution_loops_are_errors() {
    let (lines, diags) = lex("$A=$A\n$B=x $C\n$C=$B\n1 $A\n2 $B\n3");
    assert_eq!(words(&lines), vec![vec!["3"]]);
    assert_eq!(diags.len(), 2);
    assert!(has(&diags, Severity::Error, at(4, 3), "parameter substitution loop"));
    assert!(has(&diags, Severity::Error, at(5, 3), "parameter substitution loop"));
}

#[test]
fn exponential_substitution_is_stopped() {
    let (lines, diags) = lex("$A=$A $A $A $A\nx $A\ny");
    assert_eq!(words(&lines), vec![vec!["y"]]);
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Error, at(2, 3), "longer than"));
}

#[test]
fn undefined_parameters_are_kept_with_a_warning() {
    let (lines, diags) = lex("a $X ${Y} b${Z}c\nscript \"echo $1 $$ ${ x}\"");
    assert_eq!(words(&lines), vec![vec!["a", "$X", "${Y}", "b${Z}c"], vec!["script", "echo $1 $$ ${ x}"]]);
    assert_eq!(diags.len(), 3);
    assert!(has(&diags, Severity::Warning, at(1, 3), "undefined parameter `X`"));
    assert!(has(&diags, Severity::Warning, at(1, 6), "undefined parameter `Y`"));
    assert!(has(&diags, Severity::Warning, at(1, 12), "undefined parameter `Z`"));
}

#[test]
fn bare_name_needs_a_keepalived_terminator() {
    // All measured with keepalived 2.2.7, including `"a $X"` -> `a $X`.
    let (lines, diags) = lex("$DIR=/etc\nscript $DIR/x.sh\nother $HOME/bin\nnotify \"a $DIR\" \"b ${DIR}\"");
    assert_eq!(
        words(&lines),
        vec![vec!["script", "$DIR/x.sh"], vec!["other", "$HOME/bin"], vec!["notify", "a $DIR", "b /etc"]]
    );
    assert_eq!(diags.len(), 3);
    assert!(has(&diags, Severity::Warning, at(4, 11), "`$DIR` followed by `\"` is not substituted"));
    assert!(has(&diags, Severity::Warning, at(2, 8), "`$DIR` followed by `/` is not substituted"));
    assert!(has(&diags, Severity::Warning, at(3, 7), "undefined parameter `HOME`"));
}

#[test]
fn repeated_diagnostics_from_one_use_are_reported_once() {
    let (lines, diags) = lex("$A=$U $U \"\\d\" \"\\d\"\nx $A $A\ny $A");
    assert_eq!(
        words(&lines),
        vec![vec!["x", "$U", "$U", "\\d", "\\d", "$U", "$U", "\\d", "\\d"], vec!["y", "$U", "$U", "\\d", "\\d"]]
    );
    assert_eq!(diags.len(), 6, "{diags:#?}");
    for span in [at(2, 3), at(2, 6), at(3, 3)] {
        assert!(has(&diags, Severity::Warning, span, "undefined parameter `U`"));
        assert!(has(&diags, Severity::Warning, span, "unknown escape"));
    }
}

#[test]
fn malformed_references() {
    let (lines, diags) = lex("$F=1\na ${F:-x} ${F 1} b");
    assert_eq!(words(&lines), vec![vec!["a", "${F:-x}", "${F 1}", "b"]]);
    assert_eq!(diags.len(), 2);
    assert!(has(&diags, Severity::Warning, at(2, 3), "malformed parameter reference `${F:-x}`"));
    assert!(has(&diags, Severity::Warning, at(2, 11), "takes no arguments"));
}

#[test]
fn spaced_definition_is_not_a_definition() {
    let (lines, diags) = lex("$X =1");
    assert_eq!(words(&lines), vec![vec!["$X", "=1"]]);
    assert!(has(&diags, Severity::Warning, at(1, 1), "not a parameter definition"));
    assert!(has(&diags, Severity::Warning, at(1, 1), "undefined parameter `X`"));
}

#[test]
fn definition_values() {
    let lines = clean("  $E=\n$Q=\"a # b\" # c\n$W=  v w  \nx[${E}] $Q $W");
    assert_eq!(words(&lines), vec![vec!["x[]", "a # b", "v", "w"]]);
}

#[test]
fn multi_line_definition() {
    let text = "$BLOCK=vrrp_instance VI_1 { \\\n   state MASTER   \\\n  # a comment is a blank line? no: it ends here\n}\n$BLOCK\nafter";
    // keepalived ends the definition at a line that is empty after its
    // comment is cut, so the `}` line is an ordinary line.
    let lines = clean(text);
    assert_eq!(
        words(&lines),
        vec![vec!["}"], vec!["vrrp_instance", "VI_1", "{"], vec!["state", "MASTER"], vec!["after"]]
    );
    assert_eq!(spans(&lines[2]), vec![(5, 1), (5, 1)]);

    let text = "$IPS=\\\n 10.0.0.1 \\\n 10.0.0.2\nvirtual_ipaddress {\n  $IPS\n}";
    let lines = clean(text);
    assert_eq!(words(&lines), vec![vec!["virtual_ipaddress", "{"], vec!["10.0.0.1"], vec!["10.0.0.2"], vec!["}"]]);
}

#[test]
fn multi_line_parameter_must_end_its_line() {
    let (lines, diags) = lex("$M=a \\\nb\nx $M y\nz ${M}");
    assert_eq!(words(&lines), vec![vec!["x", "$M", "y"], vec!["z", "a"], vec!["b"]]);
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Error, at(3, 3), "multi-line parameter `M`"));
}

#[test]
fn hash_and_bang_parameters() {
    let lines = clean("router_id \"x${_HASH}y${_BANG}z\"\n$C=\"${_HASH}\"\nc $C 'a${_BANG}'");
    assert_eq!(words(&lines), vec![vec!["router_id", "x#y!z"], vec!["c", "#", "a!"]]);

    // Unquoted, keepalived 2.2.7 starts a comment there (measured).
    let (lines, diags) = lex("router_id x${_HASH}y $_BANG\n$H=${_HASH}\nr${H}s");
    assert_eq!(words(&lines), vec![vec!["router_id", "x#y", "!"], vec!["r#s"]]);
    assert_eq!(diags.len(), 3);
    assert!(has(&diags, Severity::Warning, at(1, 12), "unquoted `${_HASH}` starts a comment"));
    assert!(has(&diags, Severity::Warning, at(1, 22), "unquoted `${_BANG}`"));
    assert!(has(&diags, Severity::Warning, at(3, 2), "unquoted `${_HASH}`"));
}

#[test]
fn predefined_parameters() {
    let (lines, diags) = lex_as("a ${_PWD} ${_INSTANCE} $_INSTANCE\n$_PWD=mine\nb $_PWD", "node1");
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(words(&lines), vec![vec!["a", "/nonexistent/vipd-lexer", "node1", "node1"], vec!["b", "mine"]]);
}

#[test]
fn random_parameter() {
    let text =
        "a ${_RANDOM}\nb ${_RANDOM 5 5}\nc ${_RANDOM 10 12}\nd ${_RANDOM 32767}\ne ${_RANDOM 9 1}\nf ${_RANDOM 1 2 3}";
    for _ in 0..20 {
        let (lines, diags) = lex(text);
        let n = |i: usize| lines[i].tokens[1].text.parse::<u32>().unwrap();
        assert!(n(0) <= 32767);
        assert_eq!(n(1), 5);
        assert!((10..=12).contains(&n(2)));
        assert_eq!(n(3), 32767);
        assert_eq!(words(&lines[4..]), vec![vec!["e", "${_RANDOM 9 1}"], vec!["f", "${_RANDOM 1 2 3}"]]);
        assert_eq!(diags.len(), 2);
        assert!(has(&diags, Severity::Error, at(5, 3), "greater than MAX"));
        assert!(has(&diags, Severity::Error, at(6, 3), "at most two"));
    }
}

#[test]
fn seq_is_not_supported() {
    let (lines, diags) = lex("~SEQ(i, 1, 3) x $i\n@main ~SEQx(i,1,2) y\n~LST(a,b) z\n~other");
    assert_eq!(words(&lines), vec![vec!["~other"]]);
    assert_eq!(diags.len(), 3);
    assert!(has(&diags, Severity::Error, at(1, 1), "`~SEQ` expansion is not supported by vipd"));
    assert!(has(&diags, Severity::Error, at(2, 7), "`~SEQx` expansion"));
    assert!(has(&diags, Severity::Error, at(3, 1), "`~LST` expansion"));
}

fn script_argv(text: &str) -> Vec<String> {
    let lines = clean(text);
    let script = lines.last().and_then(|l| l.tokens.get(1)).unwrap();
    split_argv(&script.text).unwrap()
}

/// File text -> argv, as keepalived 2.2.7 ran it (`keepalived -d`):
/// the config token's escapes, then the script split's.
#[test]
fn scripts_match_keepalived() {
    assert_eq!(
        script_argv(r#"script "/bin/echo a\\\\b 'q\\'r' \"dq x\" x\\ y \\d""#),
        vec!["/bin/echo", r"a\b", "q'r", "dq x", "x y", "d"]
    );
    assert_eq!(script_argv(r#"script "/bin/echo \x4 \101 \cA \n""#), vec!["/bin/echo", "\x04", "A", "\x01"]);
    assert_eq!(script_argv(r#"script "/bin/echo a'b c'd""#), vec!["/bin/echo", "ab cd"]);
    assert_eq!(
        script_argv(r#"script "/bin/echo a\x41 'c d' e\\x41 'x\x41y'""#),
        vec!["/bin/echo", "aA", "c d", "eA", "xAy"]
    );
    // keepalived's man page example. Its documented escapes give
    // ` spaces file `; 2.2.7 itself reads `\x20f` as one hex escape.
    let text = concat!(
        "$SG_NAME=SG1\n$INST=low\n$USER=user\n",
        r#"notify_master "/etc/keepalived/notify_event.sh ' spaces\\x20f\x69le ' '\"s p a c e \"' ${SG_NAME}.$INST master" $USER group"#
    );
    let lines = clean(text);
    let t = &lines[0].tokens;
    assert_eq!(t.len(), 4);
    assert_eq!((t[2].text.as_str(), t[3].text.as_str()), ("user", "group"));
    assert_eq!(
        split_argv(&t[1].text).unwrap(),
        vec!["/etc/keepalived/notify_event.sh", " spaces file ", "\"s p a c e \"", "SG1.low", "master"]
    );
}

// ---- includes ----

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("vipd-lexer-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, rel: &str) -> (Vec<Line>, Vec<Diagnostic>, Sources) {
        let mut sources = Sources::default();
        let mut diags = Vec::new();
        let lines = read_config(&self.0.join(rel), &LexOptions { config_id: ID.into() }, &mut sources, &mut diags);
        (lines, diags, sources)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn include_relative_path() {
    let t = TempDir::new("rel");
    t.write("k.conf", "before\ninclude sub/a.conf\nafter $V");
    t.write("sub/a.conf", "# included\n$V=from_a\n  in_a 1\ninclude b.conf");
    t.write("sub/b.conf", "in_b ${_PWD}");
    let (lines, diags, sources) = t.read("k.conf");
    assert!(diags.is_empty(), "{diags:#?}");
    let sub = t.0.join("sub").display().to_string();
    assert_eq!(
        words(&lines),
        vec![vec!["before"], vec!["in_a", "1"], vec!["in_b", sub.as_str()], vec!["after", "from_a"]]
    );
    assert_eq!(sources.len(), 3);
    assert_eq!(sources.path(lines[1].span().file), t.0.join("sub/a.conf"));
    assert_eq!(lines[1].tokens[0].span, Span { file: FileId(1), line: 3, col: 3 });
    assert_eq!(lines[2].tokens[0].span, Span { file: FileId(2), line: 1, col: 1 });
    assert_eq!(lines[3].tokens[1].span, Span { file: FileId(0), line: 3, col: 7 });
}

#[test]
fn include_glob_sorted_and_hidden_skipped() {
    let t = TempDir::new("glob");
    t.write("k.conf", "includea conf.d/*.conf\nincluder \"/dev/null/none\" ! comment");
    for name in ["b.conf", "a.conf", "c.conf", ".hidden.conf", "d.txt", "a-b.conf"] {
        t.write(&format!("conf.d/{name}"), &format!("file {name}"));
    }
    fs::create_dir_all(t.0.join("conf.d/dir.conf")).unwrap();
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(
        words(&lines),
        vec![vec!["file", "a-b.conf"], vec!["file", "a.conf"], vec!["file", "b.conf"], vec!["file", "c.conf"]]
    );
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(has(&diags, Severity::Warning, Span { file: FileId(0), line: 1, col: 1 }, "is a directory"));
    assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 2, col: 10 }, "without quotes"));
}

#[test]
fn include_braces_and_wildcard_directories() {
    let t = TempDir::new("braces");
    t.write("k.conf", "include {z,x}.conf\ninclude */in.conf\ninclude /nonexistent-vipd/{p,q}.conf");
    t.write("x.conf", "x");
    t.write("z.conf", "z");
    t.write("d2/in.conf", "d2");
    t.write("d1/in.conf", "d1");
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(words(&lines), vec![vec!["z"], vec!["x"], vec!["d1"], vec!["d2"]]);
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 3, col: 9 }, "no file matches"));
}

#[test]
fn include_missing_and_malformed() {
    let t = TempDir::new("missing");
    t.write("k.conf", "include nothere.conf\ninclude\ninclude a b\ninclude {a,b\nx");
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(words(&lines), vec![vec!["x"]]);
    let f = FileId(0);
    assert_eq!(diags.len(), 4);
    assert!(has(&diags, Severity::Error, Span { file: f, line: 1, col: 9 }, "include `nothere.conf`: no file matches"));
    assert!(has(&diags, Severity::Error, Span { file: f, line: 2, col: 1 }, "needs a file name"));
    assert!(has(&diags, Severity::Error, Span { file: f, line: 3, col: 11 }, "one file pattern"));
    assert!(has(&diags, Severity::Error, Span { file: f, line: 4, col: 9 }, "unbalanced"));
}

#[test]
fn include_loop_is_an_error() {
    let t = TempDir::new("loop");
    t.write("a.conf", "a1\ninclude b.conf\na2");
    t.write("b.conf", "b1\n  include a.conf\nb2");
    let (lines, diags, _) = t.read("a.conf");
    assert_eq!(words(&lines), vec![vec!["a1"], vec!["b1"], vec!["b2"], vec!["a2"]]);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(has(
        &diags,
        Severity::Error,
        Span { file: FileId(1), line: 2, col: 3 },
        "include loop: a.conf -> b.conf -> a.conf"
    ));
}

#[test]
fn include_twice_is_fine() {
    let t = TempDir::new("twice");
    t.write("k.conf", "include c.conf\ninclude ./c.conf");
    t.write("c.conf", "common");
    let (lines, diags, sources) = t.read("k.conf");
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(words(&lines), vec![vec!["common"], vec!["common"]]);
    assert_eq!(lines[0].span().file, lines[1].span().file);
    assert_eq!(sources.len(), 2);
}

#[test]
fn include_nesting_depth_limit() {
    let t = TempDir::new("depth");
    let n = MAX_INCLUDE_DEPTH + 5;
    for i in 0..n {
        t.write(&format!("f{i}.conf"), &format!("level {i}\ninclude f{}.conf", i + 1));
    }
    let (lines, diags, _) = t.read("f0.conf");
    // The top file plus MAX_INCLUDE_DEPTH nested ones are read.
    assert_eq!(lines.len(), MAX_INCLUDE_DEPTH + 1);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("nested more than 32 deep"));
}

#[test]
fn include_fan_out_is_bounded() {
    let t = TempDir::new("fanout");
    for i in 0..20 {
        t.write(&format!("f{i}.conf"), &format!("include f{0}.conf\ninclude f{0}.conf", i + 1));
    }
    t.write("f20.conf", "leaf");
    let (lines, diags, _) = t.read("f0.conf");
    // Leaves give one line each; about half of the files read are leaves.
    assert!((1000..MAX_FILES_READ).contains(&lines.len()), "{}", lines.len());
    assert!(!diags.is_empty());
    assert!(diags.iter().all(|d| d.message.contains("configuration files read")));
}

/// keepalived 2.2.7 recognises include lines after conditionals and
/// substitution (measured with `keepalived -t`).
#[test]
fn include_after_conditionals_and_substitution() {
    let t = TempDir::new("subst");
    t.write(
        "k.conf",
        "$F=x.conf\ninclude $F\n@main include y.conf\n@^main include z.conf\n$INC=include y.conf\n$INC\n\
         $ML=include x.conf \\\ninclude {y,x}.conf\n$ML\nend",
    );
    t.write("x.conf", "x");
    t.write("y.conf", "y");
    t.write("z.conf", "z");
    let (lines, diags, _) = t.read("k.conf");
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(words(&lines), vec![vec!["x"], vec!["y"], vec!["y"], vec!["x"], vec!["y"], vec!["x"], vec!["end"]]);
}

#[test]
fn include_inside_a_pending_definition_does_not_steal_it() {
    // `$ML`'s first line is `$D=a \\`: expanding it leaves `$D` waiting
    // for continuation lines while the include on `$ML`'s second line
    // is read; x.conf's lines must stay lines of their own.
    let t = TempDir::new("pending");
    t.write("k.conf", "$ML=$D=a \\\\ \\\ninclude x.conf\n$ML\nc\n$D");
    t.write("x.conf", "x1\nx2");
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(words(&lines), vec![vec!["x1"], vec!["x2"], vec!["a", "\\"], vec!["c"]]);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("does not continue"));
}

#[test]
fn unreadable_files() {
    let t = TempDir::new("unreadable");
    let x = t.write("x.conf", "x");
    fs::set_permissions(&x, fs::Permissions::from_mode(0o755)).unwrap();
    t.write("k.conf", "include x.conf\nk");
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(words(&lines), vec![vec!["k"]]);
    assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 1, col: 1 }, "is executable"));

    let (lines, diags, _) = t.read("x.conf");
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 1);
    assert!(diags[0].span.is_none() && diags[0].message.contains("is executable"));

    let (lines, diags, sources) = t.read("none.conf");
    assert!(lines.is_empty() && sources.is_empty());
    assert_eq!(diags.len(), 1);
    assert!(diags[0].span.is_none() && diags[0].message.starts_with("cannot read"));
}

#[test]
fn file_size_limit() {
    let t = TempDir::new("size");
    let big = t.write("big.conf", "");
    fs::File::options().write(true).open(&big).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
    let edge = t.write("edge.conf", "");
    fs::File::options().write(true).open(&edge).unwrap().set_len(MAX_FILE_BYTES).unwrap();
    t.write("k.conf", "include big.conf\nk");
    let (lines, diags, _) = t.read("big.conf");
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 1);
    assert!(diags[0].span.is_none() && diags[0].message.contains("file larger than 16 MiB"));
    let (lines, diags, _) = t.read("k.conf");
    assert_eq!(words(&lines), vec![vec!["k"]]);
    assert_eq!(diags.len(), 1);
    assert!(has(&diags, Severity::Error, Span { file: FileId(0), line: 1, col: 1 }, "file larger than 16 MiB"));
    // Exactly 16 MiB is read (one line of NUL bytes: an error).
    let (_, diags, _) = t.read("edge.conf");
    assert!(diags.iter().all(|d| !d.message.contains("larger")));
}

#[test]
fn endless_files_stop_at_the_size_limit() {
    let started = std::time::Instant::now();
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let opts = LexOptions { config_id: ID.into() };
    let lines = read_config(Path::new("/dev/zero"), &opts, &mut sources, &mut diags);
    assert!(lines.is_empty());
    assert_eq!(diags.len(), 1);
    assert!(diags[0].message.contains("file larger than 16 MiB"), "{diags:#?}");
    if Path::new("/proc/self/pagemap").exists() {
        let t = TempDir::new("pagemap");
        t.write("k.conf", "include /proc/self/pagemap\nk");
        let (lines, diags, _) = t.read("k.conf");
        assert_eq!(words(&lines), vec![vec!["k"]]);
        assert_eq!(diags.len(), 1, "{diags:#?}");
        assert!(diags[0].message.contains("file larger than 16 MiB"), "{diags:#?}");
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

// ---- robustness ----

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_bytes_do_not_panic() {
    let mut s = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..1 << 20).map(|_| xorshift(&mut s) as u8).collect();
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let opts = LexOptions { config_id: ID.into() };
    let lines = lex_bytes(Path::new("/nonexistent/vipd-lexer/r.conf"), &bytes, &opts, &mut sources, &mut diags);
    assert!(lines.iter().all(|l| !l.tokens.is_empty()));
}

#[test]
fn random_config_like_text_does_not_panic() {
    const ALPHABET: &[u8] = b"$$${}{}\"'#!@^\\ \t\n\nabAB_=,)~SEQinclude*?[]-0123456789";
    let mut s = 0x1234_5678_9abc_def1;
    let bytes: Vec<u8> = (0..1 << 20).map(|_| ALPHABET[(xorshift(&mut s) % ALPHABET.len() as u64) as usize]).collect();
    let text = String::from_utf8(bytes).unwrap();
    let (lines, _) = lex(&text);
    assert!(lines.iter().all(|l| !l.tokens.is_empty()));
    for chunk in text.as_bytes().chunks(97) {
        let _ = split_argv(std::str::from_utf8(chunk).unwrap());
    }
}

#[test]
fn long_lines_are_dropped() {
    let at_limit = format!("a {}", "é".repeat(MAX_LINE_CHARS - 2));
    let over = format!("b {}", "x".repeat(MAX_LINE_CHARS - 1));
    let (lines, diags) = lex(&format!("{at_limit}\n{over}\nc"));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].tokens[0].text, "a");
    assert_eq!(words(&lines[1..]), vec![vec!["c"]]);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(has(&diags, Severity::Error, at(2, 1), "line longer than 65536 characters"));
}

#[test]
fn errors_stop_lexing_and_warnings_are_capped() {
    let text = format!("{}after", "~SEQ(i, 1, 2) x\n".repeat(MAX_ERRORS + 500));
    let (lines, diags) = lex(&text);
    assert!(lines.is_empty());
    assert_eq!(diags.len(), MAX_ERRORS + 1);
    assert!(diags.iter().all(|d| d.severity == Severity::Error));
    let last = diags.last().unwrap();
    assert_eq!(last.message, "too many errors; stopping");
    assert_eq!(last.span, Some(at(MAX_ERRORS as u32, 1)));

    let text = format!("{}after", "x $UNDEFINED\n".repeat(MAX_WARNINGS + 500));
    let (lines, diags) = lex(&text);
    assert_eq!(lines.len(), MAX_WARNINGS + 501);
    assert_eq!(diags.len(), MAX_WARNINGS + 1);
    assert!(diags.last().unwrap().message.contains("more than 1000 warnings"));
}

#[test]
fn substitution_budget_bounds_total_work() {
    let mut text = String::from("$A=$B $B $B $B $B $B $B $B\n$B=$C $C $C $C $C $C $C $C\n$C=0123456789abcdef\n");
    for _ in 0..5000 {
        text.push_str("x $A\n");
    }
    let (lines, diags) = lex(&text);
    assert!(lines.len() < 5000);
    assert_eq!(diags.iter().filter(|d| d.message.contains("in total")).count(), 1);
}

#[test]
fn default_config_id_is_short() {
    let id = default_config_id();
    assert!(!id.is_empty() && !id.contains('.'));
}
