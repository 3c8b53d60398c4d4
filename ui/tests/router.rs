//! The UI router over HTTP and its live WebSocket, against a real server (no browser).

mod common;

use std::time::Duration;

use common::{Stack, now_ms};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[tokio::test]
async fn every_page_serves_the_app_and_its_bundles_are_cacheable() {
    let stack = Stack::start().await;
    let client = reqwest::Client::new();
    let mut page = String::new();
    for path in telltale_ui::PAGES
        .iter()
        .copied()
        .chain(["/graph?g0.expr=up&g0.range_input=1h&g0.tab=0"])
    {
        let r = client.get(stack.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert!(r.headers().contains_key("etag"));
        page = r.text().await.unwrap();
        assert!(
            page.contains("<script type=\"module\" src=\"/assets/main-"),
            "{page}"
        );
    }

    // The bundles the page names: immutable, right content types.
    let refs: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(refs.len(), 2, "{page}");
    for path in refs {
        let r = client.get(stack.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let ct = r.headers()["content-type"].to_str().unwrap().to_string();
        let etag = r.headers()["etag"].clone();
        if path.ends_with(".js") {
            assert_eq!(ct, "text/javascript; charset=utf-8");
            let js = r.text().await.unwrap();
            // uPlot, live mode, native histogram views.
            assert!(js.contains("u-legend") && js.contains("/api/v1/live"));
            assert!(js.contains("hist_view") && js.contains("heatmap-readout"));
        } else {
            assert_eq!(ct, "text/css; charset=utf-8");
        }
        let again = client
            .get(stack.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    let missing = client
        .get(stack.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let requests: f64 = stack
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_ui_http_requests_total")
        .flat_map(|f| f.get_metric().to_vec())
        .map(|m| m.get_counter().value())
        .sum();
    assert_eq!(requests, 7.0 + 2.0 * 2.0 + 1.0);
}

fn live_url(stack: &Stack, query: &str, step: &str, start_ms: i64) -> String {
    let q: String = url_encode(query);
    format!(
        "ws://{}/api/v1/live?query={q}&step={step}&start={}",
        stack.addr,
        start_ms as f64 / 1000.0
    )
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn next_json(ws: &mut Socket) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no live message within 10s")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// `(t_seconds, value)` of every point of a points message.
fn points(msg: &Value) -> Vec<(f64, String)> {
    assert_eq!(msg["type"], "points", "{msg}");
    msg["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn live_catches_up_then_pushes_each_new_step_with_new_samples() {
    let stack = Stack::start().await;
    let start = now_ms() - 3_000;
    let (mut ws, _) = tokio_tungstenite::connect_async(live_url(&stack, "demo_live", "1", start))
        .await
        .unwrap();

    // The first push covers the steps missed since `start`, on its grid.
    let first = next_json(&mut ws).await;
    let pts = points(&first);
    assert!(pts.len() >= 2, "{first}");
    for (i, (t, v)) in pts.iter().enumerate() {
        assert_eq!(
            *t,
            (start + (i as i64 + 1) * 1_000) as f64 / 1000.0,
            "{first}"
        );
        assert_eq!(v, "1");
    }
    assert_eq!(first["end"].as_f64().unwrap(), pts.last().unwrap().0);
    assert_eq!(
        first["data"]["result"][0]["metric"],
        serde_json::json!({"__name__": "demo_live", "job": "live"})
    );

    // A new sample shows up in a following push; times keep increasing.
    let mut last_t = pts.last().unwrap().0;
    stack.reader.add(
        &[("__name__", "demo_live"), ("job", "live")],
        &[(now_ms(), 7.0)],
    );
    let mut seen = false;
    for _ in 0..10 {
        let msg = next_json(&mut ws).await;
        for (t, v) in points(&msg) {
            assert!(t > last_t, "time went back: {t} after {last_t}");
            last_t = t;
            seen |= v == "7";
        }
        if seen {
            break;
        }
    }
    assert!(seen, "the new sample was never pushed");
    ws.close(None).await.unwrap();

    let pushed: f64 = stack
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "telltale_ui_live_points_pushed_total")
        .map(|f| f.get_metric()[0].get_counter().value())
        .sum();
    assert!(pushed >= 3.0, "{pushed}");
}

#[tokio::test]
async fn live_evaluation_errors_are_pushed_and_the_connection_stays() {
    let stack = Stack::start().await;
    // A valid expression whose evaluation fails: a string result cannot be graphed.
    let (mut ws, _) = tokio_tungstenite::connect_async(live_url(&stack, "\"text\"", "1", now_ms()))
        .await
        .unwrap();
    let msg = next_json(&mut ws).await;
    assert_eq!(msg["type"], "error", "{msg}");
    assert_eq!(msg["errorType"], "bad_data");
    let again = next_json(&mut ws).await;
    assert_eq!(again["type"], "error", "{again}");
}

async fn refused(url: String) -> (u16, Value) {
    match tokio_tungstenite::connect_async(url).await {
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp.body().clone().unwrap_or_default();
            (
                resp.status().as_u16(),
                serde_json::from_slice(&body).unwrap(),
            )
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the connection was accepted"),
    }
}

#[tokio::test]
async fn bad_live_requests_are_refused_before_the_upgrade() {
    let stack = Stack::start().await;
    let (status, body) = refused(live_url(&stack, "sum(", "1", now_ms())).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");

    let (status, body) = refused(live_url(&stack, "up", "0.01", now_ms())).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("\"step\""),
        "{body}"
    );

    // The stack allows 4 connections; the fifth gets 503 until one closes.
    let mut open = Vec::new();
    for _ in 0..4 {
        let (ws, _) = tokio_tungstenite::connect_async(live_url(&stack, "up", "60", now_ms()))
            .await
            .unwrap();
        open.push(ws);
    }
    let (status, body) = refused(live_url(&stack, "up", "60", now_ms())).await;
    assert_eq!(status, 503);
    assert_eq!(body["errorType"], "unavailable");
    let mut closed = open.pop().unwrap();
    closed.close(None).await.unwrap();
    // Wait for the server to see the close.
    while closed.next().await.is_some() {}
    let mut accepted = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(live_url(&stack, "up", "60", now_ms()))
            .await
            .is_ok()
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(accepted, "a slot should free up when a connection closes");
}
