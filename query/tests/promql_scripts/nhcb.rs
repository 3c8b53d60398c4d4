//! `load_with_nhcb`: classic histogram series (`x_bucket{le=..}`, `x_count`, `x_sum`)
//! are also loaded as native histograms with custom buckets named `x`, one per
//! timestamp (Prometheus's `util/convertnhcb`).

use std::collections::BTreeMap;

use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::{CUSTOM_BUCKETS_SCHEMA, Span};

use crate::series::{Labels, Point};

#[derive(Default)]
struct Temp {
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: Option<f64>,
}

/// The NHCB series the classic histograms among `series` (values `step_ms` apart) make.
pub fn convert(
    series: &[(Labels, Vec<Point>)],
    step_ms: i64,
) -> Vec<(Labels, Vec<(i64, FloatHistogram)>)> {
    let mut by_series: BTreeMap<Labels, BTreeMap<i64, Temp>> = BTreeMap::new();
    for (labels, values) in series {
        let Some(name) = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|l| l.1.as_str())
        else {
            continue;
        };
        let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
            let Some(le) = labels.iter().find(|(n, _)| n == "le") else {
                continue;
            };
            match crate::series::parse_number(&le.1).filter(|v| !v.is_nan()) {
                Some(le) => (b, Some(le)),
                None => continue,
            }
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, None)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, None)
        } else {
            continue;
        };
        let mut key: Labels = labels
            .iter()
            .filter(|(n, _)| n != "le" && n != "__name__")
            .cloned()
            .collect();
        key.push(("__name__".to_string(), base.to_string()));
        key.sort();
        let temps = by_series.entry(key).or_default();
        for (k, v) in values.iter().enumerate() {
            let Point::Float(v) = v else { continue };
            let t = temps.entry(k as i64 * step_ms).or_default();
            match part {
                Some(le) => t.buckets.push((le, *v)),
                None if name.ends_with("_count") => t.count = Some(*v),
                None => t.sum = Some(*v),
            }
        }
    }
    by_series
        .into_iter()
        .map(|(labels, temps)| {
            let pts = temps
                .into_iter()
                .filter_map(|(t, h)| Some((t, to_histogram(h)?)))
                .collect();
            (labels, pts)
        })
        .collect()
}

/// Cumulative classic buckets to an NHCB; None when the counts are not monotonic.
fn to_histogram(mut t: Temp) -> Option<FloatHistogram> {
    t.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let count = t.count.or(t.buckets.last().map(|b| b.1)).unwrap_or(0.0);
    if t.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        t.buckets.push((f64::INFINITY, count));
    }
    let mut prev = 0.0;
    let mut counts = Vec::with_capacity(t.buckets.len());
    for &(_, c) in &t.buckets {
        if c < prev {
            return None;
        }
        counts.push(c - prev);
        prev = c;
    }
    Some(FloatHistogram {
        schema: CUSTOM_BUCKETS_SCHEMA,
        count,
        sum: t.sum.unwrap_or(0.0),
        custom_values: t.buckets[..t.buckets.len() - 1]
            .iter()
            .map(|b| b.0)
            .collect(),
        positive_spans: vec![Span {
            offset: 0,
            length: counts.len() as u32,
        }],
        positive_buckets: counts,
        ..FloatHistogram::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::parse_series;

    #[test]
    fn classic_buckets_become_custom_buckets() {
        let series: Vec<_> = [
            r#"x_bucket{job="a", le="1"} 1 2"#,
            r#"x_bucket{job="a", le="5"} 3 5"#,
            r#"x_bucket{job="a", le="+Inf"} 4 5"#,
            r#"x_sum{job="a"} 10 20"#,
            r#"x_count{job="a"} 4 5"#,
            r#"x_bucket{job="b", le="NaN"} 1 1"#,
            r#"y 1 1"#,
        ]
        .iter()
        .map(|l| parse_series(l).unwrap())
        .collect();
        let out = convert(&series, 60_000);
        assert_eq!(out.len(), 1);
        let (labels, pts) = &out[0];
        assert_eq!(
            labels,
            &vec![
                ("__name__".to_string(), "x".to_string()),
                ("job".to_string(), "a".to_string())
            ]
        );
        assert_eq!(pts.len(), 2);
        let (t, h) = &pts[1];
        assert_eq!(*t, 60_000);
        assert_eq!((h.count, h.sum), (5.0, 20.0));
        assert_eq!(h.custom_values, vec![1.0, 5.0]);
        assert_eq!(h.positive_buckets, vec![2.0, 3.0, 0.0]);
    }
}
