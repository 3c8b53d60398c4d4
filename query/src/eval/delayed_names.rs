//! The end of delayed name removal (`promql-delayed-name-removal`): the result loses
//! `__name__` where a function or operator marked it, as Prometheus's
//! `cleanupMetricLabels` does once the whole expression is evaluated.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::value::{Sample, Series, Value};

const SAME_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// `value` with every marked name removed. A vector whose label sets then collide
/// fails; a matrix's series that collide are merged into one, unless two of them have a
/// point at the same time.
pub(crate) fn finish(value: Value) -> Result<Value> {
    Ok(match value {
        Value::Vector(v) => Value::Vector(finish_vector(v)?),
        Value::Matrix(m) => Value::Matrix(finish_matrix(m)?),
        other => other,
    })
}

fn finish_vector(mut v: Vec<Sample>) -> Result<Vec<Sample>> {
    if !v.iter().any(|s| s.metric.drops_name()) {
        return Ok(v);
    }
    let mut seen = FxHashSet::with_capacity_and_hasher(v.len(), Default::default());
    for s in &mut v {
        s.metric = s.metric.finished();
        if !seen.insert(s.metric.clone()) {
            return Err(Error::execution(SAME_LABELSET));
        }
    }
    Ok(v)
}

fn finish_matrix(m: Vec<Series>) -> Result<Vec<Series>> {
    if !m.iter().any(|s| s.metric.drops_name()) {
        return Ok(m);
    }
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut out: Vec<Series> = Vec::with_capacity(m.len());
    let mut merged = Vec::new();
    for s in m {
        let metric = s.metric.finished();
        match index.get(&metric) {
            Some(&i) => {
                out[i].points.extend(s.points);
                out[i].histograms.extend(s.histograms);
                merged.push(i);
            }
            None => {
                index.insert(metric.clone(), out.len());
                out.push(Series { metric, ..s });
            }
        }
    }
    merged.sort_unstable();
    merged.dedup();
    for i in merged {
        let s = &mut out[i];
        s.points.sort_by_key(|p| p.0);
        s.histograms.sort_by_key(|p| p.0);
        let mut times: Vec<i64> = s.points.iter().map(|p| p.0).collect();
        times.extend(s.histograms.iter().map(|p| p.0));
        times.sort_unstable();
        if times.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::execution(SAME_LABELSET));
        }
    }
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(name: &str, env: &str) -> Labels {
        Labels::from(vec![
            ("__name__".to_string(), name.to_string()),
            ("env".to_string(), env.to_string()),
        ])
        .name_to_drop()
    }

    #[test]
    fn a_vector_loses_marked_names_and_fails_on_a_collision() {
        let s = |metric, value| Sample::float(metric, 0, value);
        let Value::Vector(v) = finish(Value::Vector(vec![s(marked("a", "1"), 1.0)])).unwrap()
        else {
            panic!()
        };
        assert_eq!(v[0].metric.to_string(), r#"{env="1"}"#);
        let e = finish(Value::Vector(vec![
            s(marked("a", "1"), 1.0),
            s(marked("b", "1"), 2.0),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains(SAME_LABELSET), "{e}");
    }

    #[test]
    fn matrix_series_that_collide_merge_unless_their_points_do() {
        let series = |metric, points: &[(i64, f64)]| Series::floats(metric, points.to_vec());
        let Value::Matrix(m) = finish(Value::Matrix(vec![
            series(marked("b", "1"), &[(600_000, -4.0)]),
            series(marked("a", "1"), &[(0, -1.0)]),
        ]))
        .unwrap() else {
            panic!()
        };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].points, vec![(0, -1.0), (600_000, -4.0)]);
        let e = finish(Value::Matrix(vec![
            series(marked("a", "1"), &[(0, 1.0)]),
            series(marked("b", "1"), &[(0, 2.0)]),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains(SAME_LABELSET), "{e}");
    }
}
