//! The exposition parser against real node_exporter output and random round trips.

use proptest::prelude::*;
use telltale_scraper::pull::text::{MetricType, parse};

#[test]
fn parses_node_exporter_output() {
    let text = include_str!("fixtures/node_exporter.txt");
    let e = parse(text).unwrap();
    assert_eq!(e.samples.len(), 507);
    assert_eq!(e.metadata.len(), 283);
    assert!(
        e.metadata
            .iter()
            .all(|m| m.help.is_some() && m.kind.is_some())
    );
    let named: Vec<(String, Vec<(String, String)>)> = e
        .samples
        .iter()
        .map(|s| s.name_and_labels().unwrap())
        .collect();
    let build = named
        .iter()
        .position(|(name, _)| name == "node_exporter_build_info")
        .unwrap();
    assert_eq!(e.samples[build].value, 1.0);
    assert!(
        named[build]
            .1
            .contains(&("goarch".to_string(), "amd64".to_string()))
    );
    let gc = e
        .metadata
        .iter()
        .find(|m| m.name == "go_gc_duration_seconds")
        .unwrap();
    assert_eq!(gc.kind, Some(MetricType::Summary));
    // Every sample belongs to a declared family (summaries and histograms add suffixes).
    for (name, _) in &named {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suf| name.strip_suffix(suf))
            .filter(|f| e.metadata.iter().any(|m| m.name == *f))
            .unwrap_or(name);
        assert!(
            e.metadata.iter().any(|m| m.name == family),
            "{name} has no family"
        );
    }
}

#[derive(Clone, Debug)]
struct Series {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
    help: Option<String>,
}

fn escape_label_value(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn render_value(v: f64, exp: bool) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if exp {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn render(series: &[Series], exp: bool, blank: &str) -> String {
    let mut out = String::new();
    for s in series {
        if let Some(help) = &s.help {
            let h = help.replace('\\', r"\\").replace('\n', r"\n");
            out.push_str(&format!("# HELP {} {h}\n# TYPE {} gauge\n", s.name, s.name));
        }
        out.push_str(&s.name);
        if !s.labels.is_empty() {
            let parts: Vec<String> = s
                .labels
                .iter()
                .map(|(n, v)| format!("{n}=\"{}\"", escape_label_value(v)))
                .collect();
            out.push_str(&format!("{{{}}}", parts.join(",")));
        }
        out.push_str(&format!("{blank}{}", render_value(s.value, exp)));
        if let Some(ts) = s.timestamp_ms {
            out.push_str(&format!("{blank}{ts}"));
        }
        out.push('\n');
    }
    out
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -1e6f64..1e6,
    ]
}

fn series() -> impl Strategy<Value = Series> {
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,15}",
        prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", "(\\PC|\n|\\\\|\")*", 0..5),
        value(),
        prop::option::of(any::<i64>()),
        prop::option::of("(\\PC|\n|\\\\)*"),
    )
        .prop_map(|(name, labels, value, timestamp_ms, help)| Series {
            name,
            labels: labels.into_iter().collect(),
            value,
            timestamp_ms,
            help,
        })
}

proptest! {
    #[test]
    fn rendered_series_parse_back(
        all in prop::collection::vec(series(), 0..20),
        exp in any::<bool>(),
        blank in prop_oneof![Just(" "), Just("\t"), Just("  \t")],
    ) {
        let text = render(&all, exp, blank);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.samples.len(), all.len());
        for (want, got) in all.iter().zip(&parsed.samples) {
            let (name, labels) = got.name_and_labels().map_err(TestCaseError::fail)?;
            prop_assert_eq!(&name, &want.name);
            prop_assert_eq!(&labels, &want.labels);
            prop_assert_eq!(got.timestamp_ms, want.timestamp_ms);
            if want.value.is_nan() {
                prop_assert!(got.value.is_nan());
            } else {
                prop_assert_eq!(got.value.to_bits(), want.value.to_bits());
            }
        }
        // The last HELP line of a name wins; blanks before the docstring are not part of it.
        let mut helps = std::collections::BTreeMap::new();
        for s in &all {
            if let Some(h) = &s.help {
                helps.insert(s.name.clone(), h.trim_start_matches(' ').to_string());
            }
        }
        let parsed_helps: std::collections::BTreeMap<String, String> = parsed
            .metadata
            .iter()
            .map(|m| (m.name.clone(), m.help.clone().unwrap_or_default()))
            .collect();
        prop_assert_eq!(parsed_helps, helps);
        prop_assert!(parsed.metadata.iter().all(|m| m.kind == Some(MetricType::Gauge)));
    }

    #[test]
    fn arbitrary_input_never_panics(text in "(\\PC|\n|\\{|\\}|\"|=|,| )*") {
        let _ = parse(&text);
    }
}
