//! `/api/v1/status/tsdb`-shaped cardinality statistics of the series the scraper wrote
//! recently (pure), and the handler serving them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use telltale_storage_api::METRIC_NAME;

use super::tracker::Tracked;
use super::writer::CardinalityWriter;

/// One `{name, value}` entry of a top list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stat {
    pub name: String,
    pub value: u64,
}

/// `headStats`: totals over the tracked series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadStats {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    pub min_time: i64,
    pub max_time: i64,
}

/// The `data` of Prometheus's `/api/v1/status/tsdb`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStatus {
    pub head_stats: HeadStats,
    pub series_count_by_metric_name: Vec<Stat>,
    pub label_value_count_by_label_name: Vec<Stat>,
    pub memory_in_bytes_by_label_name: Vec<Stat>,
    pub series_count_by_label_value_pair: Vec<Stat>,
}

/// The statistics of `series`, each list the top `limit` by value (ties by name).
pub fn tsdb_status<'a>(series: impl Iterator<Item = &'a Tracked>, limit: usize) -> TsdbStatus {
    let mut by_metric: HashMap<&str, u64> = HashMap::new();
    let mut values_by_name: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut bytes_by_name: HashMap<&str, u64> = HashMap::new();
    let mut by_pair: HashMap<(&str, &str), u64> = HashMap::new();
    let (mut n, mut min_time, mut max_time) = (0u64, i64::MAX, i64::MIN);
    for s in series {
        n += 1;
        min_time = min_time.min(s.last_seen_ms);
        max_time = max_time.max(s.last_seen_ms);
        for (name, value) in s.labels.pairs() {
            if name == METRIC_NAME {
                *by_metric.entry(value).or_default() += 1;
            }
            values_by_name.entry(name).or_default().insert(value);
            *bytes_by_name.entry(name).or_default() += value.len() as u64;
            *by_pair.entry((name, value)).or_default() += 1;
        }
    }
    let top = |items: Vec<(String, u64)>| -> Vec<Stat> {
        let mut items = items;
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items.truncate(limit);
        items
            .into_iter()
            .map(|(name, value)| Stat { name, value })
            .collect()
    };
    TsdbStatus {
        head_stats: HeadStats {
            num_series: n,
            num_label_pairs: by_pair.len() as u64,
            chunk_count: 0,
            min_time: if n == 0 { 0 } else { min_time },
            max_time: if n == 0 { 0 } else { max_time },
        },
        series_count_by_metric_name: top(by_metric
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()),
        label_value_count_by_label_name: top(values_by_name
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.len() as u64))
            .collect()),
        memory_in_bytes_by_label_name: top(bytes_by_name
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()),
        series_count_by_label_value_pair: top(by_pair
            .into_iter()
            .map(|((n, v), c)| (format!("{n}={v}"), c))
            .collect()),
    }
}

/// Query parameters: `limit` (default 10).
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The envelope `{"status":"success","data":{...}}`.
#[derive(Debug, Serialize)]
pub struct StatusResponse {
    pub status: &'static str,
    pub data: TsdbStatus,
}

/// `GET /api/v1/status/tsdb`.
pub async fn tsdb(
    State(writer): State<Arc<CardinalityWriter>>,
    Query(q): Query<StatusQuery>,
) -> Json<StatusResponse> {
    let limit = q.limit.filter(|l| *l > 0).unwrap_or(10);
    Json(StatusResponse {
        status: "success",
        data: writer.status(limit),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use telltale_storage_api::{Label, SeriesLabels};

    use super::*;

    fn tracked(pairs: &[(&str, &str)], t: i64) -> Tracked {
        Tracked {
            labels: Arc::new(SeriesLabels::new(
                pairs.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            )),
            last_seen_ms: t,
        }
    }

    #[test]
    fn counts_and_tops() {
        let series = [
            tracked(&[("__name__", "a"), ("job", "x"), ("pod", "p1")], 10),
            tracked(&[("__name__", "a"), ("job", "x"), ("pod", "p2")], 20),
            tracked(&[("__name__", "b"), ("job", "x")], 5),
        ];
        let s = tsdb_status(series.iter(), 2);
        assert_eq!(s.head_stats.num_series, 3);
        assert_eq!(s.head_stats.num_label_pairs, 5);
        assert_eq!((s.head_stats.min_time, s.head_stats.max_time), (5, 20));
        let names = |v: &[Stat]| {
            v.iter()
                .map(|s| (s.name.clone(), s.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&s.series_count_by_metric_name),
            vec![("a".into(), 2), ("b".into(), 1)]
        );
        assert_eq!(
            names(&s.label_value_count_by_label_name),
            vec![("__name__".into(), 2), ("pod".into(), 2)]
        );
        assert_eq!(
            names(&s.series_count_by_label_value_pair),
            vec![("job=x".into(), 3), ("__name__=a".into(), 2)]
        );
        assert_eq!(
            s.memory_in_bytes_by_label_name[0],
            Stat {
                name: "pod".into(),
                value: 4
            }
        );
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["headStats"]["numSeries"].is_number());
        assert!(json["seriesCountByLabelValuePair"].is_array());
    }
}
