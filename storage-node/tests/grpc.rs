//! The gRPC server on a real socket, driven by the real client (`GrpcStorage`).

use std::sync::Arc;

use prometheus::Registry;
use telltale_storage::{Engine, EngineOptions, serve};
use telltale_storage_api::{
    GrpcStorage, Label, LabelNamesRequest, LabelValuesRequest, MatchOp, Matcher, MatcherSet,
    Resolution, Sample, SampleReader, SampleWriter, SelectRequest, SeriesRequest, TimeSeries,
};
use tokio::sync::oneshot;

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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Arc::new(Engine::open(dir.path(), EngineOptions::default(), &Registry::new()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(engine.clone(), listener, async {
        let _ = stopped.await;
    }));

    let client = GrpcStorage::connect_lazy(&addr.to_string()).unwrap();
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

    let got = client
        .select(SelectRequest {
            matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "up")],
            start_ms: 0,
            end_ms: 1500,
            ..SelectRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 2);

    // Rollups: not computed yet (all data is inside the out-of-order window), then
    // asked for by resolution through the same Select call.
    let minute = |client: GrpcStorage| async move {
        client
            .select_aggregated(SelectRequest {
                matchers: vec![Matcher::new(MatchOp::Equal, "__name__", "up")],
                start_ms: i64::MIN,
                end_ms: i64::MAX,
                resolution: Resolution::OneMinute as i32,
            })
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
    engine.rollup_pass().unwrap();
    let points = minute(client.clone()).await;
    assert_eq!(points.len(), 2);
    let node = points
        .iter()
        .find(|s| s.labels.iter().any(|l| l.value == "node"))
        .unwrap();
    assert_eq!(
        node.points.len(),
        1,
        "both samples are in minute 0; hour 3 is not due"
    );
    assert_eq!((node.points[0].count, node.points[0].sum), (2, 1.0));
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
    // The raw tier through select_aggregated is refused before it is sent.
    assert!(
        client
            .select_aggregated(SelectRequest::default())
            .await
            .unwrap_err()
            .is_invalid_request()
    );
    assert_eq!(got[0].label("job"), Some("api"));
    assert_eq!(got[1].label("job"), Some("node"));
    assert_eq!(
        got[1].samples,
        vec![Sample {
            timestamp_ms: 1000,
            value: 1.0
        }]
    );

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
        .select(SelectRequest {
            matchers: vec![Matcher::new(MatchOp::Regex, "job", ".*")],
            start_ms: 0,
            end_ms: 1,
            ..SelectRequest::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_request(), "{err}");
    assert!(err.to_string().contains("at least one non-empty matcher"));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
