//! Bad input at every network entry of a running `telltale standalone`: remote_write 1.0
//! and 2.0, InfluxDB line protocol, OTLP, the Prometheus API's parameters, federation,
//! remote read, the Alertmanager v2 API's alerts and silences. Each gets a 4xx (never a
//! 5xx, never a crash: the process answers `/-/healthy` after all of it), and the
//! samples stored before are read back unchanged. Random bodies come from a fixed seed,
//! so a failure reproduces.

mod common;

use std::time::Duration;

use common::remote_write::{push, series};
use common::{Telltale, now_ms, query_at, value_of};

/// A POST: path, headers, body.
type Post<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>);

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// Printable junk with the characters the parsers care about.
    fn text(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"abc_:{}=,\" \\\n\t0123456789.eE+-#=~!()[]@/%\xc3\xa9";
        let bytes: Vec<u8> = (0..n)
            .map(|_| CHARS[(self.next() % CHARS.len() as u64) as usize])
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = Telltale::start(&dir.path().join("data"), &[]).await;
    let base = t.url("");
    let ts = now_ms();
    let status = push(
        &base,
        vec![
            series(&[("__name__", "kept"), ("n", "1")], ts, 1.5),
            series(&[("__name__", "kept"), ("n", "2")], ts, 2.5),
        ],
    )
    .await;
    assert!(status.is_success(), "{status}");

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut noise = Noise(0x5eed_1234_abcd_ef01);
    let mut answered = 0;
    let mut check = |what: String, status: reqwest::StatusCode, body: String| {
        assert!(
            status.is_client_error(),
            "{what}: {status} {}",
            &body[..body.len().min(300)]
        );
        assert!(
            !body.is_empty() || status == 404 || status == 405,
            "{what}: no reason given"
        );
        answered += 1;
    };

    for round in 0..40 {
        let n = 1 + (noise.next() % 2000) as usize;
        let raw = noise.bytes(n);
        let snappy = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        let text = noise.text(n);
        let posts: Vec<Post> = vec![
            ("/api/v1/write", vec![], raw.clone()),
            (
                "/api/v1/write",
                vec![
                    ("content-encoding", "snappy"),
                    ("content-type", "application/x-protobuf"),
                ],
                snappy.clone(),
            ),
            (
                "/api/v1/write",
                vec![
                    ("content-encoding", "snappy"),
                    (
                        "content-type",
                        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                    ),
                ],
                snappy.clone(),
            ),
            ("/write", vec![], text.clone().into_bytes()),
            (
                "/api/v2/write",
                vec![("content-encoding", "gzip")],
                raw.clone(),
            ),
            (
                "/v1/metrics",
                vec![("content-type", "application/x-protobuf")],
                raw.clone(),
            ),
            (
                "/v1/metrics",
                vec![("content-type", "application/json")],
                text.clone().into_bytes(),
            ),
            (
                "/api/v1/read",
                vec![("content-encoding", "snappy")],
                snappy.clone(),
            ),
            (
                "/api/v2/alerts",
                vec![("content-type", "application/json")],
                text.clone().into_bytes(),
            ),
            (
                "/api/v2/silences",
                vec![("content-type", "application/json")],
                text.clone().into_bytes(),
            ),
        ];
        for (path, headers, body) in posts {
            let mut req = client.post(format!("{base}{path}")).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            // Random line protocol may hold a valid line; it is stored, and that is fine.
            if status.is_success() && (path == "/write" || path == "/api/v2/write") {
                continue;
            }
            check(
                format!("round {round} POST {path}"),
                status,
                resp.text().await.unwrap(),
            );
        }
        let len = 1 + (noise.next() % 60) as usize;
        let junk = noise.text(len);
        for (path, params) in [
            (
                "/api/v1/query",
                vec![("query", junk.as_str()), ("time", "1e300")],
            ),
            (
                "/api/v1/query",
                vec![("query", "kept"), ("time", junk.as_str())],
            ),
            (
                "/api/v1/query_range",
                vec![
                    ("query", "kept"),
                    ("start", "0"),
                    ("end", "9e18"),
                    ("step", junk.as_str()),
                ],
            ),
            (
                "/api/v1/query_range",
                vec![
                    ("query", "kept"),
                    ("start", "10"),
                    ("end", "0"),
                    ("step", "1"),
                ],
            ),
            ("/api/v1/series", vec![("match[]", junk.as_str())]),
            (
                "/api/v1/labels",
                vec![("start", "-1e300"), ("match[]", junk.as_str())],
            ),
            ("/federate", vec![("match[]", junk.as_str())]),
        ] {
            let resp = client
                .get(format!("{base}{path}"))
                .query(&params)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let body = resp.text().await.unwrap();
            // Junk can be a valid expression or selector now and then.
            if status.is_success() {
                continue;
            }
            check(format!("round {round} GET {path} {params:?}"), status, body);
        }
    }
    // Known cases: a multi-byte character where a time is expected, a time past 2^63 ms.
    let resp = client
        .post(format!("{base}/api/v2/alerts"))
        .json(&serde_json::json!([{"labels": {"alertname": "x"}, "startsAt": "aé12345"}]))
        .send()
        .await
        .unwrap();
    check(
        "startsAt aé12345".into(),
        resp.status(),
        resp.text().await.unwrap(),
    );
    let resp = client
        .get(format!("{base}/api/v1/query"))
        .query(&[("query", "kept"), ("time", "9223372036854775807")])
        .send()
        .await
        .unwrap();
    check(
        "time 2^63".into(),
        resp.status(),
        resp.text().await.unwrap(),
    );
    assert!(answered > 300, "{answered} refusals checked");

    // Alive, and what was stored before is all there.
    let healthy = client
        .get(format!("{base}/-/healthy"))
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    let kept = query_at(&base, "sum(kept)").await;
    assert_eq!(value_of(&kept[0]), 4.0);
    assert_eq!(query_at(&base, "count(kept)").await.len(), 1);
}
