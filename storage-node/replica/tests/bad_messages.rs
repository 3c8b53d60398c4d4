//! The storage gRPC service of a running replica (a group of one on a real socket) under
//! random and damaged messages: random writes (any label names and values, duplicate and
//! empty names, any timestamps and values, NaN) and random selections (any matchers,
//! regexes that do not compile, inverted ranges) are answered — accepted, or refused with
//! a status naming the problem — the process never goes down, and what was written
//! before is read back whole afterwards. Bytes that are not a message are refused by the
//! protobuf decoder the service runs on the wire (`prost`), never a panic.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
mod common;

use prost::Message;
use telltale_storage_api::pb::storage_client::StorageClient;
use telltale_storage_api::pb::{LabelValuesRequest, SeriesRequest, WriteRequest};
use telltale_storage_api::raft_pb::{ChangeMembershipRequest, RaftPayload};
use telltale_storage_api::{
    Label, MatchOp, Matcher, MatcherSet, Sample, SelectRequest, Selection, TimeSeries,
};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("__name__".to_string()),
        "[a-z_]{1,8}",
        ".{0,12}",
        "[\\[\\](*+?|.^$]{1,6}",
    ]
}

fn write_request() -> impl Strategy<Value = WriteRequest> {
    let label = (text(), text()).prop_map(|(n, v)| Label::new(n, v));
    let sample = (any::<i64>(), prop_oneof![any::<f64>(), Just(f64::NAN)]).prop_map(
        |(timestamp_ms, value)| Sample {
            timestamp_ms,
            value,
        },
    );
    let series = (
        prop::collection::vec(label, 0..5),
        prop::collection::vec(sample, 0..4),
    )
        .prop_map(|(labels, samples)| TimeSeries {
            labels,
            samples,
            exemplars: Vec::new(),
            histograms: Vec::new(),
        });
    prop::collection::vec(series, 0..4).prop_map(|series| WriteRequest { series })
}

fn select_request() -> impl Strategy<Value = SelectRequest> {
    let op = prop_oneof![
        Just(MatchOp::Equal),
        Just(MatchOp::NotEqual),
        Just(MatchOp::Regex),
        Just(MatchOp::NotRegex),
    ];
    let matcher = (op, text(), text()).prop_map(|(op, n, v)| Matcher::new(op, n, v));
    (
        prop::collection::vec(matcher, 0..4),
        any::<i64>(),
        any::<i64>(),
        0u32..4,
    )
        .prop_map(|(matchers, start_ms, end_ms, resolution)| {
            SelectRequest::one(Selection {
                matchers,
                start_ms,
                end_ms,
                resolution: resolution as i32,
            })
        })
}

fn kept() -> Vec<TimeSeries> {
    vec![TimeSeries {
        labels: vec![Label::new("__name__", "kept"), Label::new("job", "before")],
        samples: (0..50)
            .map(|i| Sample {
                timestamp_ms: 1_700_000_000_000 + i * 1000,
                value: i as f64,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }]
}

async fn count_kept(client: &mut StorageClient<tonic::transport::Channel>) -> usize {
    common::count_selected(client, "kept").await
}

/// An answer of the replica (not a transport failure: the process is up).
fn answered(status: &tonic::Status) -> bool {
    !matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown
    )
}

#[test]
fn random_and_damaged_messages_are_answered_and_lose_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_replica, addr, stop, server) = rt.block_on(common::one_replica(dir.path()));
    let mut client = rt.block_on(async {
        let mut c = StorageClient::new(telltale_storage_api::client::channel(&addr).unwrap());
        c.write(WriteRequest { series: kept() }).await.unwrap();
        assert_eq!(count_kept(&mut c).await, 50);
        c
    });

    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(write_request(), select_request()), |(write, select)| {
            rt.block_on(async {
                let mut c = client.clone();
                if let Err(e) = c.write(write.clone()).await {
                    prop_assert!(answered(&e), "write {write:?}: {e:?}");
                }
                match c.select(select.clone()).await {
                    Ok(stream) => {
                        let mut stream = stream.into_inner();
                        loop {
                            match stream.message().await {
                                Ok(Some(_)) => {}
                                Ok(None) => break,
                                Err(e) => {
                                    prop_assert!(answered(&e), "select {select:?}: {e:?}");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => prop_assert!(answered(&e), "select {select:?}: {e:?}"),
                }
                let matchers = select.selections[0].matchers.clone();
                if let Err(e) = c
                    .series(SeriesRequest {
                        match_sets: vec![MatcherSet { matchers }],
                        start_ms: 0,
                        end_ms: i64::MAX,
                        limit: 0,
                    })
                    .await
                {
                    prop_assert!(answered(&e), "series: {e:?}");
                }
                Ok(())
            })
        })
        .unwrap();

    rt.block_on(async {
        // Refusals name the problem: a regex that does not compile.
        let bad = client
            .select(SelectRequest::one(Selection {
                matchers: vec![Matcher::new(MatchOp::Regex, "job", "(")],
                start_ms: 0,
                end_ms: i64::MAX,
                resolution: 0,
            }))
            .await;
        let err = match bad {
            Ok(s) => s.into_inner().message().await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        let _ = client.label_values(LabelValuesRequest::default()).await;
        // Everything written before is still there.
        assert_eq!(count_kept(&mut client).await, 50);
        stop.send(()).unwrap();
        server.await.unwrap();
    });
}

proptest! {
    /// The wire's bytes, whatever they are, decode to a message or to an error.
    #[test]
    fn any_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = WriteRequest::decode(bytes.as_slice());
        let _ = SelectRequest::decode(bytes.as_slice());
        let _ = SeriesRequest::decode(bytes.as_slice());
        let _ = RaftPayload::decode(bytes.as_slice());
        let _ = ChangeMembershipRequest::decode(bytes.as_slice());
    }
}
