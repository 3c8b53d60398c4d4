//! The YAML of promtool's rule unit-test files (unknown fields are errors, as promtool's
//! strict decoding makes them).

use std::collections::BTreeMap;

use serde::Deserialize;
use telltale_crds::PromDuration;

/// A unit-test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    #[serde(default)]
    pub rule_files: Vec<String>,
    #[serde(default)]
    pub evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    #[serde(default)]
    pub tests: Vec<TestGroup>,
}

/// One test group: its input series and the tests over them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    #[serde(default)]
    pub interval: Option<PromDuration>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    pub promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub external_url: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    pub series: String,
    #[serde(default)]
    pub values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default)]
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    pub expr: String,
    #[serde(default)]
    pub eval_time: PromDuration,
    #[serde(default)]
    pub exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpSample {
    #[serde(default)]
    pub labels: String,
    #[serde(default, deserialize_with = "go_float")]
    pub value: f64,
}

/// A YAML float as Go's decoder reads one (`.inf`, `-.inf`, `.nan`, numbers, and the
/// strings `Inf`/`NaN` as Prometheus writes them).
fn go_float<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum F {
        N(f64),
        S(String),
    }
    match F::deserialize(d)? {
        F::N(v) => Ok(v),
        F::S(s) => match s.as_str() {
            ".inf" | "+.inf" | "Inf" | "+Inf" => Ok(f64::INFINITY),
            "-.inf" | "-Inf" => Ok(f64::NEG_INFINITY),
            ".nan" | "NaN" => Ok(f64::NAN),
            other => other.parse().map_err(|_| {
                serde::de::Error::custom(format!("cannot unmarshal {other:?} into float64"))
            }),
        },
    }
}
