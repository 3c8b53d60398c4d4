//! Decoding a remote_write 2.0 body: snappy (as in v1) around an
//! `io.prometheus.write.v2.Request`. The symbol table is read first, wherever it lies in
//! the body; then each series is decoded on its own, its label references resolved and
//! checked as a v1 series is: a bad series is rejected alone (and counted); so are its
//! exemplars' label references, a bad exemplar dropped alone. Native histograms are
//! converted and checked as v1's ([`super::decode::convert`]). Pure.

use prost::Message;

use super::decode::{Converted, Points, accept_series};
use super::{proto, proto_v2};
use crate::error::{Error, Result};
use crate::push::wire::{self, Value};

/// Field numbers of `Request.symbols` and `Request.timeseries`.
const SYMBOLS_FIELD: u32 = 4;
const TIMESERIES_FIELD: u32 = 5;
const WHAT: &str = "io.prometheus.write.v2.Request";

/// Decodes a v2 `Request` series by series (see the module documentation). Fails only
/// when the body is not a protobuf message, a symbol is not UTF-8, or `symbols[0]` is
/// not the empty string, naming the byte offset.
pub fn convert_v2(raw: &[u8]) -> Result<Converted> {
    let mut symbols: Vec<&str> = Vec::new();
    let mut series = Vec::new();
    for field in wire::fields(raw) {
        let field = field.map_err(|e| Error::ProtobufAt {
            what: WHAT,
            offset: e.offset,
            message: e.message,
        })?;
        match (field.number, field.value) {
            (SYMBOLS_FIELD, Value::Bytes(bytes)) => {
                let symbol = std::str::from_utf8(bytes).map_err(|e| Error::ProtobufAt {
                    what: WHAT,
                    offset: field.offset,
                    message: format!("symbol #{} is not UTF-8: {e}", symbols.len()),
                })?;
                if symbols.is_empty() && !symbol.is_empty() {
                    return Err(Error::ProtobufAt {
                        what: WHAT,
                        offset: field.offset,
                        message: format!("symbols[0] must be the empty string, not {symbol:?}"),
                    });
                }
                symbols.push(symbol);
            }
            (TIMESERIES_FIELD, Value::Bytes(bytes)) => series.push((field.offset, bytes)),
            _ => {}
        }
    }
    let mut out = Converted::default();
    for (index, (offset, bytes)) in series.into_iter().enumerate() {
        let ts = match proto_v2::TimeSeries::decode(bytes) {
            Ok(ts) => ts,
            Err(e) => {
                out.outcome.reject("protobuf", 1, || {
                    format!("timeseries at byte offset {offset}: {e}")
                });
                continue;
            }
        };
        if ts.samples.is_empty() && ts.histograms.is_empty() && ts.exemplars.is_empty() {
            continue;
        }
        let mut exemplars = Vec::with_capacity(ts.exemplars.len());
        for e in &ts.exemplars {
            match resolve(&symbols, &e.labels_refs) {
                Ok(labels) => exemplars.push((labels, e.value, e.timestamp)),
                Err(_) => out.outcome.skip("invalid_exemplar"),
            }
        }
        let at = || format!("timeseries #{index} at byte offset {offset}");
        let n = (ts.samples.len() + ts.histograms.len()) as u64;
        match resolve(&symbols, &ts.labels_refs) {
            Ok(labels) => {
                let points = Points {
                    samples: ts.samples,
                    histograms: ts.histograms,
                    exemplars,
                };
                accept_series(&mut out, labels, points, at)
            }
            Err(message) => out
                .outcome
                .reject("invalid_series", n, || format!("{}: {message}", at())),
        }
    }
    Ok(out)
}

/// The labels named by `refs` (name, value, name, value, ... indexes into `symbols`).
fn resolve(symbols: &[&str], refs: &[u32]) -> std::result::Result<Vec<proto::Label>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of label references ({}): they come in name/value pairs",
            refs.len()
        ));
    }
    let symbol = |r: u32| {
        symbols.get(r as usize).copied().ok_or_else(|| {
            format!(
                "label reference {r} outside the symbol table of {}",
                symbols.len()
            )
        })
    };
    refs.chunks_exact(2)
        .map(|pair| {
            Ok(proto::Label {
                name: symbol(pair[0])?.to_string(),
                value: symbol(pair[1])?.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_storage_api::{Label, Sample};

    use super::proto_v2::{Request, TimeSeries};
    use super::*;

    fn sample(value: f64, timestamp: i64) -> proto::Sample {
        proto::Sample { value, timestamp }
    }

    fn series(refs: &[u32], samples: Vec<proto::Sample>) -> TimeSeries {
        TimeSeries {
            labels_refs: refs.to_vec(),
            samples,
            ..Default::default()
        }
    }

    fn request(timeseries: Vec<TimeSeries>) -> Request {
        Request {
            symbols: ["", "__name__", "up", "job", "x", "", "e"]
                .map(String::from)
                .to_vec(),
            timeseries,
        }
    }

    fn run(req: &Request) -> Converted {
        convert_v2(&req.encode_to_vec()).unwrap()
    }

    #[test]
    fn resolves_symbols_and_sorts_labels() {
        // job first, an empty-valued label dropped, as in v1.
        let got = run(&request(vec![series(
            &[3, 4, 1, 2, 6, 0],
            vec![sample(1.0, 1000), sample(2.0, 2000)],
        )]));
        assert_eq!(got.outcome.accepted, 2);
        assert_eq!(got.outcome.rejected_total(), 0);
        assert_eq!(
            got.series[0].labels,
            vec![Label::new("__name__", "up"), Label::new("job", "x")]
        );
        assert_eq!(
            got.series[0].samples[1],
            Sample {
                timestamp_ms: 2000,
                value: 2.0
            }
        );
    }

    #[test]
    fn bad_references_reject_their_series_alone() {
        let got = run(&request(vec![
            series(&[1, 2, 3], vec![sample(1.0, 1)]),
            series(&[1, 99], vec![sample(1.0, 1), sample(2.0, 2)]),
            series(&[3, 4], vec![sample(1.0, 1)]),
            series(&[1, 2], vec![sample(1.0, 1)]),
        ]));
        assert_eq!(got.outcome.accepted, 1);
        assert_eq!(got.outcome.rejected.get("invalid_series"), Some(&4));
        let first = got.outcome.first_error.unwrap();
        assert!(first.starts_with("timeseries #0 at byte offset"), "{first}");
        assert!(
            first.contains("odd number of label references (3)"),
            "{first}"
        );
        assert_eq!(got.series.len(), 1);
    }

    #[test]
    fn histograms_are_converted_and_exemplars_resolved() {
        let mut ts = series(&[1, 2], vec![]);
        let float = |count: f64, ts| proto::Histogram {
            count: Some(proto::histogram::Count::CountFloat(count)),
            sum: 2.0,
            positive_spans: vec![proto::BucketSpan {
                offset: 3,
                length: 1,
            }],
            positive_counts: vec![count],
            timestamp: ts,
            ..Default::default()
        };
        ts.histograms = vec![float(1.5, 10), float(2.5, 20)];
        // A histogram with a negative bucket count rejects its series.
        let mut bad = series(&[1, 2, 3, 4], vec![]);
        bad.histograms = vec![float(-1.0, 30)];
        let mut with_exemplar = series(&[1, 2], vec![sample(3.0, 5)]);
        let exemplar = |refs: &[u32]| proto_v2::Exemplar {
            labels_refs: refs.to_vec(),
            value: 2.5,
            timestamp: 4,
        };
        // job="x"; an odd reference list; a reference past the table.
        with_exemplar.exemplars = vec![exemplar(&[3, 4]), exemplar(&[3]), exemplar(&[3, 99])];
        let got = run(&request(vec![ts, with_exemplar, bad]));
        assert_eq!(got.outcome.accepted, 1);
        assert_eq!(got.outcome.histograms, 2);
        assert_eq!(got.outcome.rejected.get("invalid_histogram"), Some(&1));
        let first = got.outcome.first_error.as_deref().unwrap();
        assert!(first.starts_with("timeseries #2 at byte offset"), "{first}");
        assert!(first.contains("negative observation count"), "{first}");
        let h = &got.series[0].histograms;
        assert_eq!(
            h.iter()
                .map(|h| (h.timestamp_ms, h.count))
                .collect::<Vec<_>>(),
            [(10, 1.5), (20, 2.5)]
        );
        let got = {
            let mut got = got;
            got.series.remove(0);
            got
        };
        assert_eq!(got.outcome.skipped.get("invalid_exemplar"), Some(&2));
        assert_eq!(got.outcome.exemplars, 1);
        let e = &got.series[0].exemplars[0];
        assert_eq!(e.labels, vec![Label::new("job", "x")]);
        assert_eq!((e.value, e.timestamp_ms), (2.5, 4));
    }

    #[test]
    fn a_bad_symbol_table_refuses_the_request() {
        let mut req = request(vec![series(&[1, 2], vec![sample(1.0, 1)])]);
        req.symbols[0] = "x".into();
        let e = convert_v2(&req.encode_to_vec()).unwrap_err();
        assert!(
            e.to_string()
                .contains("symbols[0] must be the empty string"),
            "{e}"
        );
        let mut bytes = request(vec![]).encode_to_vec();
        bytes.extend_from_slice(&[0x22, 0x01, 0xff]);
        let e = convert_v2(&bytes).unwrap_err();
        assert!(e.to_string().contains("is not UTF-8"), "{e}");
        let e = convert_v2(&[0x2a, 0x10, 0x01]).unwrap_err();
        assert!(e.to_string().contains("byte offset 0"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = convert_v2(&bytes);
        }

        #[test]
        fn accepted_plus_rejected_is_every_float_sample(
            refs in proptest::collection::vec(proptest::collection::vec(0u32..9, 0..6), 1..8)
        ) {
            let timeseries: Vec<TimeSeries> =
                refs.iter().map(|r| series(r, vec![sample(1.0, 1)])).collect();
            let got = run(&request(timeseries));
            prop_assert_eq!(got.outcome.accepted + got.outcome.rejected_total(), refs.len() as u64);
            prop_assert_eq!(got.series.len() as u64, got.outcome.accepted);
        }
    }
}
