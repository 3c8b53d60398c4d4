//! The engine against Go's documented `text/template` semantics (cases after the
//! examples of Go's package documentation and its `exec_test.go`).

use std::collections::BTreeMap;

use super::value::{ListKind, MapKind, Value};
use super::{MissingKey, NoFunctions, Templates};

fn data() -> Value {
    let mut m = BTreeMap::new();
    m.insert("Name".to_string(), Value::str("Alice"));
    m.insert("Empty".to_string(), Value::str(""));
    m.insert("Count".to_string(), Value::Int(3));
    m.insert("Pi".to_string(), Value::Float(3.14259));
    m.insert(
        "Items".to_string(),
        Value::list(
            ListKind::Strings,
            vec![Value::str("a"), Value::str("b"), Value::str("c")],
        ),
    );
    m.insert("None".to_string(), Value::list(ListKind::Strings, vec![]));
    let mut inner = BTreeMap::new();
    inner.insert("k2".to_string(), Value::str("v2"));
    inner.insert("k1".to_string(), Value::str("v1"));
    m.insert("Map".to_string(), Value::map(MapKind::Strings, inner));
    Value::map(MapKind::Any, m)
}

fn run_with(text: &str, missing: MissingKey) -> Result<String, String> {
    let mut t = Templates::new();
    t.parse("t", text, &NoFunctions)
        .map_err(|e| e.to_string())?;
    t.execute("t", &data(), &NoFunctions, missing)
        .map_err(|e| e.to_string())
}

fn run(text: &str) -> String {
    run_with(text, MissingKey::Default).unwrap_or_else(|e| format!("ERROR: {e}"))
}

#[test]
fn actions_and_control_structures() {
    assert_eq!(run("Hello, {{.Name}}!"), "Hello, Alice!");
    assert_eq!(run("{{if .Name}}yes{{else}}no{{end}}"), "yes");
    assert_eq!(
        run("{{if .Empty}}a{{else if .Count}}b{{else}}c{{end}}"),
        "b"
    );
    assert_eq!(
        run("{{if not .Count}}a{{else if .Empty}}b{{else}}c{{end}}"),
        "c"
    );
    assert_eq!(run("{{with .Name}}[{{.}}]{{end}}"), "[Alice]");
    assert_eq!(run("{{with .Empty}}[{{.}}]{{else}}none{{end}}"), "none");
    assert_eq!(
        run("{{with .Empty}}x{{else with .Name}}{{.}}{{end}}"),
        "Alice"
    );
    assert_eq!(run("{{range .Items}}<{{.}}>{{end}}"), "<a><b><c>");
    assert_eq!(run("{{range .None}}x{{else}}empty{{end}}"), "empty");
    assert_eq!(
        run("{{range $i, $e := .Items}}{{$i}}={{$e}} {{end}}"),
        "0=a 1=b 2=c "
    );
    assert_eq!(run("{{range $e := .Items}}{{$e}}{{end}}"), "abc");
    assert_eq!(
        run("{{range $k, $v := .Map}}{{$k}}:{{$v}};{{end}}"),
        "k1:v1;k2:v2;"
    );
    assert_eq!(
        run("{{range .Items}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}"),
        "a"
    );
    assert_eq!(
        run("{{range .Items}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}"),
        "ac"
    );
    assert_eq!(run("{{range .Items}}{{$.Name}}{{end}}"), "AliceAliceAlice");
}

#[test]
fn variables_and_scopes() {
    assert_eq!(run("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}"), "12");
    assert_eq!(run("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}"), "2");
    assert_eq!(
        run("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}"),
        "21"
    );
    assert!(run("{{$}}").starts_with("map["));
    assert_eq!(run("{{with $n := .Name}}{{$n}}{{end}}"), "Alice");
}

#[test]
fn trimming_and_comments() {
    assert_eq!(run("a  {{- .Name -}}  b"), "aAliceb");
    assert_eq!(run("a\n\t{{- /* note */ -}}\n b"), "ab");
    assert_eq!(run("x{{/* c */}}y"), "xy");
    assert_eq!(run("{{- 3 }}"), "3");
    assert_eq!(run("{{ -3 }}"), "-3");
}

#[test]
fn define_template_block() {
    assert_eq!(
        run(r#"{{define "T"}}Hi {{.}}{{end}}{{template "T" .Name}}/{{template "T" "Bob"}}"#),
        "Hi Alice/Hi Bob"
    );
    assert_eq!(run(r#"{{block "B" .Count}}n={{.}}{{end}}"#), "n=3");
    assert_eq!(
        run(r#"{{define "T"}}[{{.}}]{{end}}{{template "T"}}"#),
        "[<no value>]"
    );
    // A later definition replaces the block's default body.
    let mut t = Templates::new();
    t.parse(
        "base",
        r#"<{{block "content" .}}default{{end}}>"#,
        &NoFunctions,
    )
    .unwrap();
    assert_eq!(
        t.execute("base", &Value::Nil, &NoFunctions, MissingKey::Default)
            .unwrap(),
        "<default>"
    );
    t.parse("over", r#"{{define "content"}}custom{{end}}"#, &NoFunctions)
        .unwrap();
    assert_eq!(
        t.execute("base", &Value::Nil, &NoFunctions, MissingKey::Default)
            .unwrap(),
        "<custom>"
    );
}

#[test]
fn builtin_functions() {
    assert_eq!(
        run("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}"),
        "0 2 3 "
    );
    assert_eq!(
        run("{{not .Empty}} {{len .Items}} {{len .Name}} {{len .Map}}"),
        "true 3 5 2"
    );
    assert_eq!(
        run("{{index .Items 1}} {{index .Map \"k2\"}} {{index .Map \"zz\"}}|"),
        "b v2 |"
    );
    assert_eq!(run("{{slice .Name 1 3}} {{slice .Items 1}}"), "li [b c]");
    assert_eq!(
        run(
            "{{eq .Count 3}} {{ne .Name \"Bob\"}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}"
        ),
        "true true true true true false"
    );
    assert_eq!(run("{{eq .Name \"Bob\" \"Alice\"}}"), "true");
    assert_eq!(
        run("{{print 1 2 \"x\" 3}}|{{println \"a\" 1}}|{{printf \"%5.2f|%-4s|%03d\" .Pi .Name 7}}"),
        "1 2x3|a 1\n| 3.14|Alice|007"
    );
    assert_eq!(
        run("{{html \"<a href='x'>&</a>\"}}"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(run("{{js \"it's <b>\"}}"), "it\\'s \\u003Cb\\u003E");
    assert_eq!(run("{{urlquery \"a b&c=d/é\"}}"), "a+b%26c%3Dd%2F%C3%A9");
    assert_eq!(
        run("{{.Name | printf \"%s!\"}} {{\"x\" | printf \"%s-%s\" \"y\"}}"),
        "Alice! y-x"
    );
    assert_eq!(run("{{(index .Items 2) | len}}"), "1");
    assert_eq!(run("{{.Count | printf \"%d\" | len}}"), "1");
}

#[test]
fn printing_values() {
    assert_eq!(
        run("{{.Pi}} {{.Count}} {{1.0}} {{1e6}} {{0x10}} {{'a'}} {{true}} {{.Items}} {{.Map}}"),
        "3.14259 3 1 1e+06 16 97 true [a b c] map[k1:v1 k2:v2]"
    );
    assert_eq!(run("{{.Missing}}"), "<no value>");
    assert_eq!(
        run_with("{{.Map.missing}}|", MissingKey::Zero).unwrap(),
        "|"
    );
    assert!(
        run_with("{{.Missing}}", MissingKey::Error)
            .unwrap_err()
            .contains("map has no entry for key \"Missing\"")
    );
}

#[test]
fn execution_errors_read_as_go() {
    assert_eq!(
        run("{{len 3}}"),
        "ERROR: template: t:1:2: executing \"t\" at <len 3>: error calling len: len of type int"
    );
    assert_eq!(
        run("x\n  {{index .Items 5}}"),
        "ERROR: template: t:2:4: executing \"t\" at <index .Items 5>: error calling index: index out of range: 5"
    );
    assert_eq!(
        run("{{.Name.Foo}}"),
        "ERROR: template: t:1:7: executing \"t\" at <.Name.Foo>: can't evaluate field Foo in type string"
    );
    assert_eq!(
        run("{{printf}}"),
        "ERROR: template: t:1:2: executing \"t\" at <printf>: wrong number of args for printf: want at least 1 got 0"
    );
    assert_eq!(
        run("{{printf 3}}"),
        "ERROR: template: t:1:9: executing \"t\" at <3>: expected string; found 3"
    );
    assert_eq!(
        run("{{eq .Pi 3}}"),
        "ERROR: template: t:1:2: executing \"t\" at <eq .Pi 3>: error calling eq: incompatible types for comparison"
    );
    assert_eq!(
        run("{{template \"nope\"}}"),
        "ERROR: template: t:1:11: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
    assert_eq!(
        run("{{\"x\" 1}}"),
        "ERROR: template: t:1:2: executing \"t\" at <\"x\">: can't give argument to non-function \"x\""
    );
    assert_eq!(
        run("{{range 5}}{{end}}"),
        "ERROR: template: t:1:8: executing \"t\" at <5>: range can't iterate over 5"
    );
    assert!(
        run(r#"{{define "r"}}{{template "r"}}{{end}}{{template "r"}}"#)
            .contains("exceeded maximum template depth")
    );
}
