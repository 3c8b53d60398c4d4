//! The storage contract of a one-replica group (standalone's and `telltale storage`'s
//! layout), through both of its clients: the gRPC service on a real socket driven by the
//! real client (`GrpcStorage`), and the in-process `LocalStorage`. Both must answer alike.

use telltale_replica::Replica;
use telltale_storage_api::{
    GrpcStorage, Label, LabelNamesRequest, LabelValuesRequest, MatchOp, Matcher, MatcherSet,
    Resolution, Sample, SampleReader, SampleWriter, SelectRequest, Selection, SeriesRequest,
    TimeSeries,
};
mod common;
use common::one_replica;

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        samples: samples
            .iter()
            .map(|&(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_storage_contract_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let (replica, addr, stop, server) = one_replica(dir.path()).await;
    let client = GrpcStorage::connect_lazy(&addr).unwrap();
    contract(client, &replica).await;
    stop.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_storage_contract_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let (replica, _addr, stop, server) = one_replica(dir.path()).await;
    contract(replica.local_storage(), &replica).await;
    stop.send(()).unwrap();
    server.await.unwrap();
}

/// The checks both clients must pass.
async fn contract<C>(client: C, replica: &Replica)
where
    C: SampleWriter + SampleReader + Clone + 'static,
{
    let written = client
        .write(vec![
            series(
                &[("__name__", "up"), ("job", "node")],
                &[(1000, 1.0), (2000, 0.0)],
            ),
            series(&[("__name__", "up"), ("job", "api")], &[(1500, 1.0)]),
        ])
        .await
        .unwrap();
    assert_eq!(written, 3);

    let up = || vec![Matcher::new(MatchOp::Equal, "__name__", "up")];
    let got = client
        .select(SelectRequest::one(Selection {
            matchers: up(),
            start_ms: 0,
            end_ms: 1500,
            resolution: Resolution::Raw as i32,
        }))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);

    // Rollups: not computed yet (all data is inside the out-of-order window), then
    // asked for by resolution through the same Select call.
    let minute = |client: C| async move {
        client
            .select(SelectRequest::one(Selection {
                matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "up")],
                start_ms: i64::MIN,
                end_ms: i64::MAX,
                resolution: Resolution::OneMinute as i32,
            }))
            .await
            .unwrap()
    };
    assert!(minute(client.clone()).await.is_empty());
    client
        .write(vec![series(
            &[("__name__", "up"), ("job", "node")],
            &[(3 * 3_600_000, 1.0)],
        )])
        .await
        .unwrap();
    replica.engine().unwrap().rollup_pass().unwrap();
    let points = minute(client.clone()).await;
    assert_eq!(points.len(), 2);
    let node = points
        .iter()
        .find(|s| s.label("job") == Some("node"))
        .unwrap()
        .points()
        .unwrap();
    assert_eq!(
        node.len(),
        1,
        "both samples are in minute 0; hour 3 is not due"
    );
    assert_eq!((node[0].count, node[0].sum), (2, 1.0));
    let info = client.info().await.unwrap();
    let tier = |r: Resolution| {
        *info
            .tiers
            .iter()
            .find(|t| t.resolution == r as i32)
            .unwrap()
    };
    assert_eq!(tier(Resolution::Raw).complete_until_ms, 3 * 3_600_000 + 1);
    assert_eq!(tier(Resolution::OneMinute).complete_until_ms, 2 * 3_600_000);
    assert_eq!(tier(Resolution::Raw).retention_ms, 7 * 86_400_000);
    assert_eq!(got[0].label("job"), Some("api"));
    assert_eq!(got[1].label("job"), Some("node"));
    assert_eq!(got[1].samples().unwrap(), vec![(1000, 1.0)]);

    // Several selections in one request: each series answered under its selection, the
    // budget over the whole request.
    let both = SelectRequest {
        selections: vec![
            Selection {
                matchers: up(),
                start_ms: 0,
                end_ms: 1200,
                resolution: Resolution::Raw as i32,
            },
            Selection {
                matchers: vec![Matcher::new(MatchOp::Equal, "job", "node")],
                start_ms: 0,
                end_ms: i64::MAX,
                resolution: Resolution::Raw as i32,
            },
        ],
        max_series: 0,
        max_samples: 0,
    };
    let answer = client.select(both.clone()).await.unwrap();
    let per: Vec<(u32, usize)> = answer
        .iter()
        .map(|s| (s.selection, s.samples().unwrap().len()))
        .collect();
    assert_eq!(per, vec![(0, 1), (1, 3)], "{answer:?}");
    let over = client
        .select(SelectRequest {
            max_samples: 3,
            ..both.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(over.exhausted_budget(), Some("samples"), "{over}");
    let over = client
        .select(SelectRequest {
            max_series: 1,
            ..both
        })
        .await
        .unwrap_err();
    assert_eq!(over.exhausted_budget(), Some("series"), "{over}");

    let listed = client
        .series(SeriesRequest {
            match_sets: vec![MatcherSet {
                matchers: vec![Matcher::new(MatchOp::Regex, "job", "n.*")],
            }],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label("job"), Some("node"));

    let names = client
        .label_names(LabelNamesRequest {
            match_sets: vec![],
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(names, vec!["__name__", "job"]);
    let values = client
        .label_values(LabelValuesRequest {
            name: "job".into(),
            match_sets: vec![],
            start_ms: 1600,
            end_ms: 3000,
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(values, vec!["node"]);

    // Bad input comes back as InvalidArgument with the engine's message.
    let err = client
        .write(vec![series(&[("job", "x")], &[(1, 1.0)])])
        .await
        .unwrap_err();
    assert!(err.is_invalid_request(), "{err}");
    assert!(err.to_string().contains("__name__"), "{err}");
    let err = client
        .select(SelectRequest::one(Selection {
            matchers: vec![Matcher::new(MatchOp::Regex, "job", ".*")],
            start_ms: 0,
            end_ms: 1,
            resolution: Resolution::Raw as i32,
        }))
        .await
        .unwrap_err();
    assert!(err.is_invalid_request(), "{err}");
    assert!(err.to_string().contains("at least one non-empty matcher"));
}
