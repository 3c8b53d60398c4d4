//! remote_write 1.0 as Prometheus sends it: `prometheus.WriteRequest` (protobuf, snappy
//! block format) POSTed to `/api/v1/write`, built ahead of time and sent by concurrent
//! senders.
//!
//! Every series belongs to one sender (by its index modulo the sender count), and a
//! sender sends its samples in time order, so no series ever sees an older sample after
//! a newer one. Senders stay within `slack` intervals of data of each other (as
//! Prometheus's shards stay near the head of the WAL), so neither server sees a sample
//! far behind its newest: the whole push is in time order but for that slack.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::error::{Error, Result};
use crate::workload::Fleet;

/// One encoded request and the data steps it covers.
#[derive(Clone, Debug)]
pub struct Request {
    pub body: Bytes,
    pub samples: usize,
    pub first_step: usize,
}

/// A whole push: the requests of each sender, in the order it sends them.
#[derive(Debug)]
pub struct Push {
    pub senders: Vec<Vec<Request>>,
    pub series: usize,
    pub samples: u64,
    pub compressed_bytes: u64,
}

/// What to push: `points` samples per series of `fleet`, one every `interval_ms`, the
/// last interval ending at `end_ms`.
#[derive(Clone, Copy, Debug)]
pub struct PushPlan {
    pub fleet: Fleet,
    pub points: usize,
    pub interval_ms: i64,
    pub end_ms: i64,
    pub senders: usize,
    pub request_samples: usize,
}

/// Samples land this long after an interval boundary (plus a per-host jitter below
/// 50 ms), so none sits on a query step or a `[5m]` range boundary, where Prometheus 2.x
/// (closed ranges) and 3.x (left-open) differ.
pub const SCRAPE_OFFSET_MS: i64 = 1234;

impl PushPlan {
    pub fn start_ms(&self) -> i64 {
        self.end_ms - self.points as i64 * self.interval_ms
    }

    fn timestamp(&self, instance: usize, step: usize) -> i64 {
        let jitter = (instance as i64 * 7919) % 50;
        self.start_ms() + step as i64 * self.interval_ms + SCRAPE_OFFSET_MS + jitter
    }

    /// Generates the samples and encodes every request.
    pub fn build(&self) -> Push {
        let mut instances = self.fleet.instances();
        self.build_steps(&mut instances, 0..self.points)
    }

    /// Encodes the requests of steps `steps` only, moving `instances` (the fleet's, as
    /// left by the steps before) on as it goes, so a long push can be built and sent a
    /// block of steps at a time. Each request's `first_step` counts from `steps.start`.
    pub fn build_steps(
        &self,
        instances: &mut [crate::workload::Instance],
        steps: std::ops::Range<usize>,
    ) -> Push {
        let per_instance = self.fleet.shape.series();
        let labels: Vec<Vec<u8>> = instances
            .iter()
            .enumerate()
            .flat_map(|(i, inst)| {
                let instance = Fleet::instance_label(i);
                inst.specs()
                    .iter()
                    .map(move |s| {
                        let mut pairs: Vec<(&str, &str)> = vec![
                            ("__name__", s.name),
                            ("instance", instance.as_str()),
                            ("job", "node"),
                        ];
                        pairs.extend(s.labels.iter().map(|(n, v)| (*n, v.as_str())));
                        pairs.sort();
                        encode_labels(&pairs)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let senders = self.senders.max(1);
        let mut pending: Vec<Chunk> = (0..senders).map(|_| Chunk::default()).collect();
        let mut out: Vec<Vec<Request>> = vec![Vec::new(); senders];
        let dt = self.interval_ms as f64 / 1000.0;
        let mut compressed = 0u64;
        let mut encoder = snap::raw::Encoder::new();
        for step in steps.clone() {
            for (i, inst) in instances.iter_mut().enumerate() {
                if step > 0 {
                    inst.advance(dt);
                }
                let ts = self.timestamp(i, step);
                for (j, v) in inst.values().iter().enumerate() {
                    let series = i * per_instance + j;
                    let s = series % senders;
                    let chunk = &mut pending[s];
                    chunk.push(series as u32, step - steps.start, ts, *v);
                    if chunk.samples.len() >= self.request_samples {
                        let r = chunk.take(&labels, &mut encoder);
                        compressed += r.body.len() as u64;
                        out[s].push(r);
                    }
                }
            }
        }
        for (s, chunk) in pending.iter_mut().enumerate() {
            if !chunk.samples.is_empty() {
                let r = chunk.take(&labels, &mut encoder);
                compressed += r.body.len() as u64;
                out[s].push(r);
            }
        }
        Push {
            senders: out,
            series: labels.len(),
            samples: (labels.len() * steps.len()) as u64,
            compressed_bytes: compressed,
        }
    }
}

/// The samples of one request being collected.
#[derive(Default)]
struct Chunk {
    samples: Vec<(u32, i64, f64)>,
    first_step: usize,
}

impl Chunk {
    fn push(&mut self, series: u32, step: usize, ts: i64, v: f64) {
        if self.samples.is_empty() {
            self.first_step = step;
        }
        self.samples.push((series, ts, v));
    }

    /// Encodes the collected samples (grouped per series, in time order within each) and
    /// starts over.
    fn take(&mut self, labels: &[Vec<u8>], encoder: &mut snap::raw::Encoder) -> Request {
        let samples = std::mem::take(&mut self.samples);
        let n = samples.len();
        let mut grouped: std::collections::BTreeMap<u32, Vec<(i64, f64)>> = Default::default();
        for (series, ts, v) in samples {
            grouped.entry(series).or_default().push((ts, v));
        }
        let mut buf = Vec::with_capacity(n * 160);
        for (series, points) in &grouped {
            encode_series(&mut buf, &labels[*series as usize], points);
        }
        let body = encoder
            .compress_vec(&buf)
            .expect("snappy compresses any input below 4 GiB");
        Request {
            body: Bytes::from(body),
            samples: n,
            first_step: self.first_step,
        }
    }
}

fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    encode_key(field, WireType::LengthDelimited, buf);
    encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

/// `repeated Label labels = 1` of a `TimeSeries`, encoded once per series.
fn encode_labels(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut label = Vec::new();
    for (name, value) in pairs {
        label.clear();
        put_bytes(&mut label, 1, name.as_bytes());
        put_bytes(&mut label, 2, value.as_bytes());
        put_bytes(&mut out, 1, &label);
    }
    out
}

/// One `TimeSeries` as field 1 of the `WriteRequest`.
fn encode_series(buf: &mut Vec<u8>, labels: &[u8], points: &[(i64, f64)]) {
    let sample_len = |ts: i64| 1 + 8 + 1 + encoded_len_varint(ts as u64);
    let body: usize = labels.len()
        + points
            .iter()
            .map(|(ts, _)| {
                let l = sample_len(*ts);
                1 + encoded_len_varint(l as u64) + l
            })
            .sum::<usize>();
    encode_key(1, WireType::LengthDelimited, buf);
    encode_varint(body as u64, buf);
    buf.extend_from_slice(labels);
    for (ts, v) in points {
        encode_key(2, WireType::LengthDelimited, buf);
        encode_varint(sample_len(*ts) as u64, buf);
        encode_key(1, WireType::SixtyFourBit, buf);
        buf.extend_from_slice(&v.to_le_bytes());
        encode_key(2, WireType::Varint, buf);
        encode_varint(*ts as u64, buf);
    }
}

/// How a push went.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SendStats {
    pub requests: u64,
    /// Samples in the requests the server took.
    pub samples: u64,
    /// Requests the server refused (4xx) after which the push went on.
    pub failed: u64,
    /// Re-sends after a 5xx, a 429 or a connection error.
    pub retries: u64,
    pub first_error: Option<String>,
    pub wall_s: f64,
    /// Float and native histogram samples the server said it stored (the sums of its
    /// `X-Prometheus-Remote-Write-{Samples,Histograms}-Written` headers), when it sent
    /// them with every accepted request (Telltale does; Prometheus 2.42 does not).
    pub written: Option<Written>,
}

/// What a server said it stored of the requests it accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub samples: u64,
    pub histograms: u64,
}

/// Keeps senders within `slack` steps of the slowest one: a request may start at most
/// `slack` steps after the slowest sender's next unsent step.
struct Lockstep {
    done: Vec<AtomicUsize>,
    slack: usize,
    notify: tokio::sync::Notify,
}

impl Lockstep {
    fn slowest(&self) -> usize {
        self.done
            .iter()
            .map(|d| d.load(Ordering::Acquire))
            .min()
            .unwrap_or(usize::MAX)
    }

    async fn wait_for(&self, step: usize) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.slowest().saturating_add(self.slack) >= step {
                return;
            }
            notified.await;
        }
    }

    fn advance(&self, sender: usize, step: usize) {
        self.done[sender].store(step, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// Attempts per request before the push is given up (about a minute of back-off).
const MAX_ATTEMPTS: u32 = 70;

/// Sends every request of `push` to `url` (`.../api/v1/write`), one task per sender.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    push: &Arc<Push>,
    slack: usize,
) -> Result<SendStats> {
    let lockstep = Arc::new(Lockstep {
        done: push.senders.iter().map(|_| AtomicUsize::new(0)).collect(),
        slack,
        notify: tokio::sync::Notify::new(),
    });
    // Requests, refused requests, retries, samples taken; written samples and
    // histograms, accepted requests without the written headers.
    let counters = Arc::new([const { AtomicU64::new(0) }; 7]);
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for s in 0..push.senders.len() {
        let (client, url, push) = (client.clone(), url.to_string(), push.clone());
        let (lockstep, counters, first_error) =
            (lockstep.clone(), counters.clone(), first_error.clone());
        tasks.spawn(async move {
            let requests = &push.senders[s];
            for (k, r) in requests.iter().enumerate() {
                lockstep.wait_for(r.first_step).await;
                let (retries, answer) = post(&client, &url, r.body.clone()).await?;
                counters[0].fetch_add(1, Ordering::Relaxed);
                counters[2].fetch_add(u64::from(retries), Ordering::Relaxed);
                if let Ok(written) = &answer {
                    counters[3].fetch_add(r.samples as u64, Ordering::Relaxed);
                    match written {
                        Some(w) => {
                            counters[4].fetch_add(w.samples, Ordering::Relaxed);
                            counters[5].fetch_add(w.histograms, Ordering::Relaxed);
                        }
                        None => {
                            counters[6].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if let Err(e) = answer {
                    counters[1].fetch_add(1, Ordering::Relaxed);
                    first_error
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get_or_insert(e);
                }
                let next = requests.get(k + 1).map_or(usize::MAX, |n| n.first_step);
                lockstep.advance(s, next);
            }
            lockstep.advance(s, usize::MAX);
            Ok::<(), Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| Error::Invalid {
            what: "remote_write sender",
            detail: e.to_string(),
        })??;
    }
    let first_error = first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let accepted = counters[0].load(Ordering::Relaxed) - counters[1].load(Ordering::Relaxed);
    let without_headers = counters[6].load(Ordering::Relaxed);
    Ok(SendStats {
        written: (accepted > 0 && without_headers == 0).then(|| Written {
            samples: counters[4].load(Ordering::Relaxed),
            histograms: counters[5].load(Ordering::Relaxed),
        }),
        requests: counters[0].load(Ordering::Relaxed),
        failed: counters[1].load(Ordering::Relaxed),
        retries: counters[2].load(Ordering::Relaxed),
        samples: counters[3].load(Ordering::Relaxed),
        first_error,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// A number-valued response header.
fn header_count(r: &reqwest::Response, name: &str) -> Option<u64> {
    r.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// POSTs one request, retrying what Prometheus's remote_write retries. Returns the
/// retries and what the server said: for an accepted request the `…-Written` headers
/// (when it sent both), for a refused one its answer.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
) -> Result<(u32, std::result::Result<Option<Written>, String>)> {
    let mut backoff = Duration::from_millis(50);
    for attempt in 0..MAX_ATTEMPTS {
        let sent = client
            .post(url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body.clone())
            .send()
            .await;
        let retry = match sent {
            Ok(r) if r.status().is_success() => {
                let written = header_count(&r, "X-Prometheus-Remote-Write-Samples-Written")
                    .zip(header_count(
                        &r,
                        "X-Prometheus-Remote-Write-Histograms-Written",
                    ))
                    .map(|(samples, histograms)| Written {
                        samples,
                        histograms,
                    });
                return Ok((attempt, Ok(written)));
            }
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                format!("{}", r.status())
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                return Ok((attempt, Err(format!("{status}: {}", text.trim()))));
            }
            Err(e) => e.to_string(),
        };
        if attempt + 1 == MAX_ATTEMPTS {
            return Err(Error::Invalid {
                what: "remote_write",
                detail: format!("{url} still failing after {MAX_ATTEMPTS} attempts: {retry}"),
            });
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
    unreachable!("the last attempt returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Fleet;

    /// `prometheus.WriteRequest` as prost derives it from prompb, to check the hand
    /// encoding against.
    #[derive(Clone, PartialEq, prost::Message)]
    struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Label {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(string, tag = "2")]
        value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Sample {
        #[prost(double, tag = "1")]
        value: f64,
        #[prost(int64, tag = "2")]
        timestamp: i64,
    }

    fn decode(r: &Request) -> WriteRequest {
        let raw = snap::raw::Decoder::new().decompress_vec(&r.body).unwrap();
        prost::Message::decode(raw.as_slice()).unwrap()
    }

    #[test]
    fn requests_decode_as_prompb_and_hold_every_sample_once() {
        let plan = PushPlan {
            fleet: Fleet::new(100, 3).unwrap(),
            points: 7,
            interval_ms: 10_000,
            end_ms: 1_700_000_000_000,
            senders: 3,
            request_samples: 90,
        };
        let push = plan.build();
        assert_eq!(push.samples, 700);
        let mut seen = std::collections::BTreeMap::<String, Vec<i64>>::new();
        for (s, requests) in push.senders.iter().enumerate() {
            for r in requests {
                assert!(r.samples <= 90);
                let wr = decode(r);
                let n: usize = wr.timeseries.iter().map(|t| t.samples.len()).sum();
                assert_eq!(n, r.samples);
                for ts in wr.timeseries {
                    let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
                    assert!(names.is_sorted(), "{names:?}");
                    assert_eq!(names[0], "__name__");
                    let key = format!("{:?}", ts.labels);
                    let times = seen.entry(key).or_default();
                    for sample in ts.samples {
                        assert!(sample.value.is_finite());
                        assert!(times.last().is_none_or(|t| *t < sample.timestamp));
                        assert!(sample.timestamp > plan.start_ms());
                        assert!(sample.timestamp < plan.end_ms);
                        times.push(sample.timestamp);
                    }
                }
                assert!(s < 3);
            }
        }
        assert_eq!(seen.len(), 100);
        assert!(seen.values().all(|t| t.len() == 7));
    }

    /// Every (series, time, value) of the requests, sorted.
    fn samples_of(push: &Push) -> Vec<(String, i64, u64)> {
        let mut out = Vec::new();
        for r in push.senders.iter().flatten() {
            for ts in decode(r).timeseries {
                let key = format!("{:?}", ts.labels);
                for s in ts.samples {
                    out.push((key.clone(), s.timestamp, s.value.to_bits()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_push_built_in_blocks_holds_the_same_samples() {
        let plan = PushPlan {
            fleet: Fleet::new(200, 5).unwrap(),
            points: 9,
            interval_ms: 10_000,
            end_ms: 1_700_000_000_000,
            senders: 2,
            request_samples: 70,
        };
        let whole = plan.build();
        let mut instances = plan.fleet.instances();
        let first = plan.build_steps(&mut instances, 0..4);
        let second = plan.build_steps(&mut instances, 4..9);
        assert_eq!(first.samples + second.samples, whole.samples);
        assert!(second.senders.iter().flatten().any(|r| r.first_step == 0));
        let mut blocks = samples_of(&first);
        blocks.extend(samples_of(&second));
        blocks.sort();
        assert_eq!(blocks, samples_of(&whole));
    }

    #[test]
    fn the_same_plan_builds_the_same_bytes() {
        let plan = PushPlan {
            fleet: Fleet::new(200, 9).unwrap(),
            points: 3,
            interval_ms: 10_000,
            end_ms: 1_700_000_000_000,
            senders: 4,
            request_samples: 50,
        };
        let (a, b) = (plan.build(), plan.build());
        let bodies = |p: &Push| -> Vec<Bytes> {
            p.senders.iter().flatten().map(|r| r.body.clone()).collect()
        };
        assert_eq!(bodies(&a), bodies(&b));
    }
}
