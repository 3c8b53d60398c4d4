//! Error cases of Prometheus's parser tests (`promql/parser/parse_test.go`): the query,
//! and the position (`line:col`) and message Prometheus 3.5 gives.

use crate::features::Features;

const CASES: &[(&str, &str)] = &[
    ("1+", "1:3: parse error: unexpected end of input"),
    (".", "1:1: parse error: unexpected character: '.'"),
    (
        "2.5.",
        "1:1: parse error: bad number or duration syntax: \"2.5.\"",
    ),
    (
        "100..4",
        "1:1: parse error: bad number or duration syntax: \"100..\"",
    ),
    (
        "0deadbeef",
        "1:1: parse error: bad number or duration syntax: \"0de\"",
    ),
    ("1 /", "1:4: parse error: unexpected end of input"),
    ("*1", "1:1: parse error: unexpected <op:*>"),
    ("(1))", "1:5: parse error: unexpected right parenthesis ')'"),
    ("((1)", "1:5: parse error: unclosed left parenthesis"),
    ("(", "1:2: parse error: unclosed left parenthesis"),
    (
        "1 and 1",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    ),
    (
        "1 == 1",
        "1:3: parse error: comparisons between scalars must use BOOL modifier",
    ),
    (
        "1 or 1",
        "1:1: parse error: set operator \"or\" not allowed in binary scalar expression",
    ),
    (
        "1 unless 1",
        "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression",
    ),
    (
        "1 !~ 1",
        "1:3: parse error: unexpected character after '!': '~'",
    ),
    (
        "1 =~ 1",
        "1:3: parse error: unexpected character after '=': '~'",
    ),
    (
        "-\"string\"",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"string\"",
    ),
    (
        "-test[5m]",
        "1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got \"range vector\"",
    ),
    ("*test", "1:1: parse error: unexpected <op:*>"),
    ("@@", "1:1: parse error: unexpected <op:@>"),
    (
        "1 offset 1d",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    ),
    (
        "foo offset 1s offset 2s",
        "1:1: parse error: offset may not be set multiple times",
    ),
    (
        "a - on(b) ignoring(c) d",
        "1:11: parse error: unexpected <ignoring>",
    ),
    (
        "foo and 1",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    ),
    (
        "1 or foo",
        "1:1: parse error: set operator \"or\" not allowed in binary scalar expression",
    ),
    (
        "1 or on(bar) foo",
        "1:1: parse error: vector matching only allowed between instant vectors",
    ),
    (
        "foo == on(bar) 10",
        "1:1: parse error: vector matching only allowed between instant vectors",
    ),
    (
        "foo + group_left(baz) bar",
        "1:7: parse error: unexpected <group_left>",
    ),
    (
        "foo and on(bar) group_left(baz) bar",
        "1:1: parse error: no grouping allowed for \"and\" operation",
    ),
    (
        "foo unless on(bar) group_right(baz) bar",
        "1:1: parse error: no grouping allowed for \"unless\" operation",
    ),
    (
        "http_requests{group=\"production\"} + on(instance) group_left(job,instance) cpu_count{type=\"smp\"}",
        "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once",
    ),
    (
        "foo + bool bar",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    ),
    (
        "foo and bool 10",
        "1:5: parse error: bool modifier can only be used on comparison operators",
    ),
    (
        "foo @ +Inf",
        "1:1: parse error: timestamp out of bounds for @ modifier: +Inf",
    ),
    (
        "foo @ -Inf",
        "1:1: parse error: timestamp out of bounds for @ modifier: -Inf",
    ),
    (
        "foo @ NaN",
        "1:1: parse error: timestamp out of bounds for @ modifier: NaN",
    ),
    (
        "{",
        "1:2: parse error: unexpected end of input inside braces",
    ),
    ("}", "1:1: parse error: unexpected character: '}'"),
    (
        "some{",
        "1:6: parse error: unexpected end of input inside braces",
    ),
    ("some}", "1:5: parse error: unexpected character: '}'"),
    (
        "some_metric{a=b}",
        "1:15: parse error: unexpected identifier \"b\" in label matching, expected string",
    ),
    (
        "some_metric{a:b=\"b\"}",
        "1:14: parse error: unexpected character inside braces: ':'",
    ),
    (
        "foo{a*\"b\"}",
        "1:6: parse error: unexpected character inside braces: '*'",
    ),
    (
        "foo{a>=\"b\"}",
        "1:6: parse error: unexpected character inside braces: '>'",
    ),
    (
        "foo{gibberish}",
        "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator",
    ),
    (
        "foo{1}",
        "1:5: parse error: unexpected character inside braces: '1'",
    ),
    (
        "{}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        "{x=\"\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        "{x=~\".*\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        "{x!~\".+\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        "{x!=\"a\"}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    ),
    (
        "foo{__name__=\"bar\"}",
        "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\"",
    ),
    (
        "foo{__name__= =}",
        "1:15: parse error: unexpected \"=\" in label matching, expected string",
    ),
    (
        "foo{,}",
        "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\"",
    ),
    (
        "foo{__name__ == \"bar\"}",
        "1:15: parse error: unexpected \"=\" in label matching, expected string",
    ),
    (
        "foo{__name__=\"bar\" lol}",
        "1:20: parse error: unexpected identifier \"lol\" in label matching, expected \",\" or \"}\"",
    ),
    (
        "foo{\"a\"=}",
        "1:9: parse error: unexpected \"}\" in label matching, expected string",
    ),
    (
        "foo[5mm]",
        "1:5: parse error: bad number or duration syntax: \"5mm\"",
    ),
    (
        "foo[5m1]",
        "1:5: parse error: bad number or duration syntax: \"5m1\"",
    ),
    (
        "foo[5m:1m1]",
        "1:8: parse error: bad number or duration syntax: \"1m1\"",
    ),
    (
        "foo[5y1hs]",
        "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\"",
    ),
    (
        "foo[5m1h]",
        "1:5: parse error: not a valid duration string: \"5m1h\"",
    ),
    (
        "foo[5m1m]",
        "1:5: parse error: not a valid duration string: \"5m1m\"",
    ),
    (
        "foo[0m]",
        "1:5: parse error: duration must be greater than 0",
    ),
    (
        "foo[\"5m\"]",
        "1:5: parse error: unexpected character in duration expression: '\"'",
    ),
    (
        "foo[-1]",
        "1:5: parse error: duration must be greater than 0",
    ),
    (
        "some_metric[5m] OFFSET 1mm",
        "1:24: parse error: bad number or duration syntax: \"1mm\"",
    ),
    (
        "some_metric OFFSET 1m[5m]",
        "1:22: parse error: no offset modifiers allowed before range",
    ),
    (
        "some_metric[5m] @",
        "1:18: parse error: unexpected end of input in @, expected timestamp",
    ),
    (
        "some_metric @ 1234 [5m]",
        "1:20: parse error: no @ modifiers allowed before range",
    ),
    (
        "some_metric @ start() [5m]",
        "1:23: parse error: no @ modifiers allowed before range",
    ),
    (
        "some_metric @ end()[5m]",
        "1:20: parse error: no @ modifiers allowed before range",
    ),
    (
        "(foo + bar)[5m]",
        "1:12: parse error: ranges only allowed for vector selectors",
    ),
    (
        "sum by (\"foo)(some_metric{})",
        "1:9: parse error: unterminated quoted string",
    ),
    (
        "sum without(x) (y) by (z)",
        "1:20: parse error: unexpected <by>",
    ),
    (
        "topk(x)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1",
    ),
    (
        "sum()",
        "1:1: parse error: no arguments for aggregate expression provided",
    ),
    (
        "rate(x[5m],)",
        "1:11: parse error: trailing commas not allowed in function call args",
    ),
    (
        "mad_over_time(x[5m])",
        "1:1: parse error: function \"mad_over_time\" is not enabled",
    ),
    (
        "limitk(1, x)",
        "1:1: parse error: limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions",
    ),
    (
        "x[5m:1m] @ 1 @ 2",
        "1:1: parse error: @ <timestamp> may not be set multiple times",
    ),
    (
        "(x + 1) @ 10",
        "1:1: parse error: @ modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    ),
    (
        "round(x, 1, 2)",
        "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3",
    ),
    (
        "label_join(x)",
        "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1",
    ),
    (
        "x{a=~\"a)\"}",
        "1:3: parse error: error parsing regexp: unexpected ): `a)`",
    ),
    (
        "x{a=~\"[a\"}",
        "1:3: parse error: error parsing regexp: missing closing ]: `[a`",
    ),
];

#[test]
fn prometheus_parser_error_cases() {
    let mut wrong = Vec::new();
    for (q, want) in CASES {
        let got = match super::parse(q, &Features::default(), Some(0)) {
            Ok(_) => "accepted".to_string(),
            Err(e) => e.to_string(),
        };
        if got != *want {
            wrong.push(format!("{q:?}\n  want {want}\n  got  {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
