//! The OpenMetrics parser: random round trips of generated expositions, and random or
//! damaged input that must never panic.

use proptest::prelude::*;
use telltale_scraper::pull::openmetrics::parse;
use telltale_scraper::pull::text::MetricType;

#[derive(Clone, Debug)]
struct Family {
    name: String,
    counter: bool,
    samples: Vec<Sample>,
}

#[derive(Clone, Debug)]
struct Sample {
    labels: Vec<(String, String)>,
    value: f64,
    timestamp_ms: Option<i64>,
    created: Option<f64>,
    exemplar: bool,
}

fn escape(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn render_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn render_labels(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels
        .iter()
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for f in families {
        let kind = if f.counter { "counter" } else { "gauge" };
        out.push_str(&format!(
            "# TYPE {} {kind}\n# HELP {} generated\n",
            f.name, f.name
        ));
        for s in &f.samples {
            let name = if f.counter {
                format!("{}_total", f.name)
            } else {
                f.name.clone()
            };
            out.push_str(&format!(
                "{name}{} {}",
                render_labels(&s.labels),
                render_value(s.value)
            ));
            if let Some(ts) = s.timestamp_ms {
                out.push_str(&format!(" {}.{:03}", ts / 1000, ts % 1000));
            }
            if s.exemplar {
                out.push_str(" # {trace_id=\"abc\"} 1.5 1700000000.5");
            }
            out.push('\n');
            if let (true, Some(c)) = (f.counter, s.created) {
                out.push_str(&format!(
                    "{}_created{} {}\n",
                    f.name,
                    render_labels(&s.labels),
                    render_value(c)
                ));
            }
        }
    }
    out.push_str("# EOF\n");
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

fn sample() -> impl Strategy<Value = Sample> {
    (
        prop::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,10}", "(\\PC|\n|\\\\|\")*", 0..4),
        value(),
        prop::option::of(0i64..4_000_000_000_000),
        prop::option::of(0f64..2e9),
        any::<bool>(),
    )
        .prop_map(|(labels, value, timestamp_ms, created, exemplar)| Sample {
            labels: labels.into_iter().collect(),
            value,
            timestamp_ms,
            created,
            exemplar,
        })
}

/// Families with distinct names (a prefix letter per index keeps them apart).
fn families() -> impl Strategy<Value = Vec<Family>> {
    prop::collection::vec(
        (
            "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
            any::<bool>(),
            prop::collection::vec(sample(), 0..5),
        ),
        0..8,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (name, counter, samples))| Family {
                name: format!("f{i}_{name}"),
                counter,
                samples,
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn rendered_families_parse_back(all in families()) {
        let text = render(&all);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut want = Vec::new();
        for f in &all {
            for s in &f.samples {
                let name = if f.counter { format!("{}_total", f.name) } else { f.name.clone() };
                want.push((name, s.labels.clone(), s.value, s.timestamp_ms));
                if let (true, Some(c)) = (f.counter, s.created) {
                    want.push((format!("{}_created", f.name), s.labels.clone(), c, None));
                }
            }
        }
        prop_assert_eq!(parsed.samples.len(), want.len());
        for ((name, labels, value, ts), got) in want.iter().zip(&parsed.samples) {
            let (got_name, got_labels) = got.name_and_labels().map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got_name, name);
            prop_assert_eq!(&got_labels, labels);
            prop_assert_eq!(got.timestamp_ms, *ts);
            if value.is_nan() {
                prop_assert!(got.value.is_nan());
            } else {
                prop_assert_eq!(got.value.to_bits(), value.to_bits());
            }
        }
        prop_assert_eq!(parsed.metadata.len(), all.len());
        for (f, m) in all.iter().zip(&parsed.metadata) {
            prop_assert_eq!(&m.name, &f.name);
            let kind = if f.counter { MetricType::Counter } else { MetricType::Gauge };
            prop_assert_eq!(m.kind, Some(kind));
            prop_assert_eq!(m.help.as_deref(), Some("generated"));
        }
    }

    #[test]
    fn arbitrary_input_never_panics(text in "(\\PC|\n|\\{|\\}|\"|=|,| |#|# EOF\n)*") {
        let _ = parse(&text);
    }

    #[test]
    fn damaged_expositions_never_panic(
        all in families(),
        cut in any::<prop::sample::Index>(),
        insert in "(\\PC|\n|\"|\\{|\\}|#| )",
    ) {
        let text = render(&all);
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let _ = parse(&text[..at]);
        let damaged = format!("{}{insert}{}", &text[..at], &text[at..]);
        let _ = parse(&damaged);
    }
}
