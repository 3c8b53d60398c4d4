//! The disk queue against a storage writer that goes down and comes back: nothing
//! acknowledged is lost, nothing is written twice, each producer's batches arrive in the
//! order it wrote them — across a restart of the queue too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use telltale_scraper::{DiskQueue, QueueOptions};
use telltale_storage_api::{Label, Sample, SampleWriter, TimeSeries};

/// A storage that refuses writes (Unavailable) while `down`, and records what it accepts.
#[derive(Default)]
struct FlakyStorage {
    down: AtomicBool,
    accepted: Mutex<Vec<TimeSeries>>,
    refused: AtomicU64,
    delay: Mutex<Duration>,
}

#[async_trait::async_trait]
impl SampleWriter for FlakyStorage {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let delay = *self.delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.down.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(telltale_storage_api::Error::Status {
                code: tonic::Code::Unavailable,
                message: "storage is down".into(),
            });
        }
        let n = series.iter().map(|s| s.samples.len() as u64).sum();
        self.accepted.lock().unwrap().extend(series);
        Ok(n)
    }
}

impl FlakyStorage {
    /// The timestamps each producer's samples arrived with, in arrival order.
    fn arrivals(&self) -> HashMap<String, Vec<i64>> {
        let mut out: HashMap<String, Vec<i64>> = HashMap::new();
        for s in self.accepted.lock().unwrap().iter() {
            let p = s.label("producer").unwrap().to_string();
            out.entry(p)
                .or_default()
                .extend(s.samples.iter().map(|x| x.timestamp_ms));
        }
        out
    }
}

fn batch(producer: usize, i: i64) -> Vec<TimeSeries> {
    vec![TimeSeries {
        labels: vec![
            Label::new("__name__", "load"),
            Label::new("producer", format!("p{producer}")),
        ],
        samples: vec![
            Sample {
                timestamp_ms: i * 2,
                value: i as f64,
            },
            Sample {
                timestamp_ms: i * 2 + 1,
                value: i as f64,
            },
        ],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }]
}

fn options() -> QueueOptions {
    QueueOptions {
        segment_bytes: 4096,
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(50),
        ..QueueOptions::default()
    }
}

async fn drained(queue: &DiskQueue) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue.pending_batches() > 0 {
        assert!(
            Instant::now() < deadline,
            "queue did not drain: {} left",
            queue.pending_batches()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn assert_exactly_once_in_order(storage: &FlakyStorage, producers: usize, batches: i64) {
    let arrivals = storage.arrivals();
    assert_eq!(arrivals.len(), producers);
    let want: Vec<i64> = (0..batches * 2).collect();
    for (p, ts) in arrivals {
        assert_eq!(ts, want, "producer {p}: every sample once, in order");
    }
}

fn counter(registry: &prometheus::Registry, name: &str, label: Option<&str>) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().to_vec())
        .filter(|m| label.is_none_or(|l| m.get_label().iter().any(|x| x.value() == l)))
        .map(|m| m.get_counter().value())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_down_under_load_then_back_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FlakyStorage::default());
    let registry = prometheus::Registry::new();
    let queue = Arc::new(
        DiskQueue::open(dir.path(), storage.clone(), options(), &registry)
            .await
            .unwrap(),
    );
    const PRODUCERS: usize = 4;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let queue = queue.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                queue.write(batch(p, i)).await.expect("acknowledged");
                i += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            i
        }));
    }
    // Storage goes down and comes back twice while the producers write.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        storage.down.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        storage.down.store(false, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = Vec::new();
    for t in tasks {
        written.push(t.await.unwrap());
    }
    drained(&queue).await;
    assert!(
        storage.refused.load(Ordering::SeqCst) > 0,
        "storage was really down"
    );
    assert!(counter(&registry, "telltale_queue_enqueued_samples_total", None) > 0.0);
    let arrivals = storage.arrivals();
    assert_eq!(arrivals.len(), PRODUCERS);
    for (p, n) in written.iter().enumerate() {
        let want: Vec<i64> = (0..n * 2).collect();
        assert_eq!(
            arrivals[&format!("p{p}")],
            want,
            "producer {p}: every sample once, in order"
        );
    }
    assert_eq!(
        counter(&registry, "telltale_queue_replayed_samples_total", None),
        counter(&registry, "telltale_queue_enqueued_samples_total", None)
    );
    assert_eq!(
        counter(&registry, "telltale_queue_dropped_samples_total", None),
        0.0
    );
    assert_eq!(queue.pending_bytes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FlakyStorage::default());
    storage.down.store(true, Ordering::SeqCst);
    {
        let queue = DiskQueue::open(
            dir.path(),
            storage.clone(),
            options(),
            &prometheus::Registry::new(),
        )
        .await
        .unwrap();
        for i in 0..100 {
            queue
                .write(batch(0, i))
                .await
                .expect("acknowledged while storage is down");
        }
        assert_eq!(queue.pending_batches(), 100);
        // The process dies here: the queue is dropped without draining.
    }
    assert!(storage.accepted.lock().unwrap().is_empty());

    // Restart with storage slow but up; kill the queue again in the middle of the replay.
    storage.down.store(false, Ordering::SeqCst);
    *storage.delay.lock().unwrap() = Duration::from_millis(2);
    {
        let queue = DiskQueue::open(
            dir.path(),
            storage.clone(),
            QueueOptions {
                replay_batches: 2,
                ..options()
            },
            &prometheus::Registry::new(),
        )
        .await
        .unwrap();
        assert!(queue.pending_batches() > 0);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let left = queue.pending_batches();
        assert!(left > 0 && left < 100, "replay was under way: {left} left");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    *storage.delay.lock().unwrap() = Duration::ZERO;
    let queue = DiskQueue::open(
        dir.path(),
        storage.clone(),
        options(),
        &prometheus::Registry::new(),
    )
    .await
    .unwrap();
    // New writes queue behind the recovered backlog.
    for i in 100..120 {
        queue.write(batch(0, i)).await.unwrap();
    }
    drained(&queue).await;
    assert_exactly_once_in_order(&storage, 1, 120);
}

#[tokio::test]
async fn overflow_is_refused_and_counted_never_silent() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FlakyStorage::default());
    storage.down.store(true, Ordering::SeqCst);
    let registry = prometheus::Registry::new();
    let queue = DiskQueue::open(
        dir.path(),
        storage.clone(),
        QueueOptions {
            max_bytes: 1000,
            ..options()
        },
        &registry,
    )
    .await
    .unwrap();
    let mut acknowledged = 0;
    let err = loop {
        match queue.write(batch(0, acknowledged)).await {
            Ok(n) => {
                assert_eq!(n, 2);
                acknowledged += 1;
            }
            Err(e) => break e,
        }
        assert!(acknowledged < 1000, "the bound was never reached");
    };
    assert_eq!(err.metric_label(), "resource_exhausted");
    assert!(err.to_string().contains("disk queue full"), "{err}");
    assert_eq!(
        counter(
            &registry,
            "telltale_queue_dropped_samples_total",
            Some("overflow")
        ),
        2.0
    );
    storage.down.store(false, Ordering::SeqCst);
    drained(&queue).await;
    assert_exactly_once_in_order(&storage, 1, acknowledged);
}

#[tokio::test]
async fn invalid_batches_are_not_queued() {
    struct Refusing;
    #[async_trait::async_trait]
    impl SampleWriter for Refusing {
        async fn write(&self, _: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
            Err(telltale_storage_api::Error::Status {
                code: tonic::Code::InvalidArgument,
                message: "bad".into(),
            })
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let queue = DiskQueue::open(
        dir.path(),
        Arc::new(Refusing),
        options(),
        &prometheus::Registry::new(),
    )
    .await
    .unwrap();
    assert!(
        queue
            .write(batch(0, 0))
            .await
            .unwrap_err()
            .is_invalid_request()
    );
    assert_eq!(queue.pending_batches(), 0);
}

#[tokio::test]
async fn a_batch_storage_refuses_is_dropped_and_counted_the_others_replayed_in_order() {
    /// Down until told otherwise; refuses series of producer p9 as invalid.
    struct Picky(FlakyStorage);
    #[async_trait::async_trait]
    impl SampleWriter for Picky {
        async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
            if !self.0.down.load(Ordering::SeqCst)
                && series.iter().any(|s| s.label("producer") == Some("p9"))
            {
                return Err(telltale_storage_api::Error::Status {
                    code: tonic::Code::InvalidArgument,
                    message: "out of bounds".into(),
                });
            }
            self.0.write(series).await
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Picky(FlakyStorage::default()));
    storage.0.down.store(true, Ordering::SeqCst);
    let registry = prometheus::Registry::new();
    let queue = DiskQueue::open(dir.path(), storage.clone(), options(), &registry)
        .await
        .unwrap();
    for i in 0..10 {
        queue.write(batch(0, i)).await.unwrap();
        if i == 4 {
            queue.write(batch(9, 0)).await.unwrap();
        }
    }
    storage.0.down.store(false, Ordering::SeqCst);
    drained(&queue).await;
    assert_exactly_once_in_order(&storage.0, 1, 10);
    assert_eq!(
        counter(
            &registry,
            "telltale_queue_dropped_samples_total",
            Some("rejected")
        ),
        2.0
    );
}
