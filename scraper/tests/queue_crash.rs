//! Exactly once across crashes: a real process replaying the disk queue is killed (-9)
//! at random points, again and again, then allowed to finish; storage counts every
//! sample per (series, timestamp) and each arrives exactly once.
//!
//! The storage is a gRPC server in this test process speaking the storage API, which
//! applies a write and de-duplicates like the replicated cluster does (telltale-replica's
//! `SmMeta::is_duplicate`: per writer id, a batch number at or below the last applied
//! one changes nothing) and answers only after a pause: a kill during that pause is a
//! crash between storage applying a batch and the queue's cursor write. The replaying
//! process is this test binary run again in child mode ([`child_replays_queue`]), with
//! a different replay group size each run, so groups after a restart differ from the
//! group that was in flight.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use telltale_scraper::{DiskQueue, QueueOptions};
use telltale_storage_api::pb::storage_server::{Storage, StorageServer};
use telltale_storage_api::pb::{
    InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest, SelectRequest,
    SelectResponse, SeriesRequest, SeriesResponse, StringsResponse, WriteRequest, WriteResponse,
};
use telltale_storage_api::{
    GrpcStorage, Label, Sample, SampleWriter, TimeSeries,
    headers::{HEADER_BATCH_SEQ, HEADER_WRITER_ID},
};
use tonic::{Request, Response, Status};

const CHILD_DIR: &str = "TELLTALE_TEST_QUEUE_DIR";
const CHILD_STORAGE: &str = "TELLTALE_TEST_QUEUE_STORAGE";
const CHILD_GROUP: &str = "TELLTALE_TEST_QUEUE_GROUP";

const BATCHES: i64 = 240;
const SERIES: usize = 5;
/// How long storage holds its answer after applying a batch.
const ACK_DELAY: Duration = Duration::from_millis(25);

/// Applies writes with the replicated cluster's de-duplication; counts samples.
#[derive(Default)]
struct CountingStorage {
    counts: Mutex<HashMap<(String, i64), u32>>,
    last_seq: Mutex<HashMap<u64, u64>>,
    duplicates: AtomicU64,
    writes: AtomicU64,
}

fn header(req: &Request<WriteRequest>, name: &str) -> u64 {
    req.metadata()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The gRPC face of a [`CountingStorage`].
struct Service(Arc<CountingStorage>);

#[tonic::async_trait]
impl Storage for Service {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let this = &self.0;
        let (writer, seq) = (
            header(&req, HEADER_WRITER_ID),
            header(&req, HEADER_BATCH_SEQ),
        );
        let series = req.into_inner().series;
        let samples: u64 = series.iter().map(|s| s.samples.len() as u64).sum();
        {
            let mut last = this.last_seq.lock().unwrap();
            let duplicate = writer != 0 && last.get(&writer).is_some_and(|l| seq <= *l);
            if duplicate {
                this.duplicates.fetch_add(1, Ordering::SeqCst);
            } else {
                let mut counts = this.counts.lock().unwrap();
                for s in &series {
                    let name = s.label("__name__").unwrap_or("").to_string();
                    for sample in &s.samples {
                        *counts
                            .entry((name.clone(), sample.timestamp_ms))
                            .or_default() += 1;
                    }
                }
                if writer != 0 {
                    last.insert(writer, seq);
                }
            }
        }
        this.writes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(ACK_DELAY).await;
        Ok(Response::new(WriteResponse {
            samples_written: samples,
            exemplars_written: 0,
            histograms_written: 0,
        }))
    }

    type SelectStream = futures::stream::Empty<Result<SelectResponse, Status>>;

    async fn select(
        &self,
        _: Request<SelectRequest>,
    ) -> Result<Response<Self::SelectStream>, Status> {
        Err(Status::unimplemented("select"))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        Err(Status::unimplemented("info"))
    }

    async fn series(&self, _: Request<SeriesRequest>) -> Result<Response<SeriesResponse>, Status> {
        Err(Status::unimplemented("series"))
    }

    async fn label_names(
        &self,
        _: Request<LabelNamesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        Err(Status::unimplemented("label_names"))
    }

    async fn label_values(
        &self,
        _: Request<LabelValuesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        Err(Status::unimplemented("label_values"))
    }

    async fn query_exemplars(
        &self,
        _: Request<telltale_storage_api::ExemplarsRequest>,
    ) -> Result<Response<telltale_storage_api::pb::ExemplarsResponse>, Status> {
        Err(Status::unimplemented("query_exemplars"))
    }
}

impl CountingStorage {
    fn distinct(&self) -> usize {
        self.counts.lock().unwrap().len()
    }
}

async fn serve(storage: Arc<CountingStorage>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = futures::stream::unfold(listener, |l| async move {
        let conn = l.accept().await.map(|(s, _)| s);
        Some((conn, l))
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(StorageServer::new(Service(storage)))
            .serve_with_incoming(incoming),
    );
    addr.to_string()
}

/// A storage that is down: everything written goes to the queue.
struct Down;

#[async_trait::async_trait]
impl SampleWriter for Down {
    async fn write(&self, _: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        Err(telltale_storage_api::Error::Status {
            code: tonic::Code::Unavailable,
            message: "down".into(),
        })
    }
}

fn batch(i: i64) -> Vec<TimeSeries> {
    (0..SERIES)
        .map(|j| TimeSeries {
            labels: vec![Label::new("__name__", format!("series_{j}"))],
            samples: vec![Sample {
                timestamp_ms: 1_000 * i,
                value: i as f64,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect()
}

fn options(group: usize) -> QueueOptions {
    QueueOptions {
        retry_min: Duration::from_millis(10),
        retry_max: Duration::from_millis(50),
        replay_batches: group,
        ..QueueOptions::default()
    }
}

/// Child mode: replays the queue in `$TELLTALE_TEST_QUEUE_DIR` to the storage at
/// `$TELLTALE_TEST_QUEUE_STORAGE` until killed. Does nothing in a normal test run.
#[test]
fn child_replays_queue() {
    let (Ok(dir), Ok(storage)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_STORAGE)) else {
        return;
    };
    let group: usize = std::env::var(CHILD_GROUP)
        .ok()
        .and_then(|g| g.parse().ok())
        .unwrap_or(4);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let downstream = Arc::new(GrpcStorage::connect_lazy(&storage).unwrap());
        let _queue = DiskQueue::open(
            dir,
            downstream,
            options(group),
            &prometheus::Registry::new(),
        )
        .await
        .unwrap();
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// xorshift64*, seeded from the clock (printed, to reproduce a failure's schedule).
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % below
    }
}

fn spawn_child(dir: &std::path::Path, storage: &str, group: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_replays_queue", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_STORAGE, storage)
        .env(CHILD_GROUP, group.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaying_process_killed_at_random_points_delivers_each_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    // Fill the queue while storage is down.
    {
        let queue = DiskQueue::open(
            dir.path(),
            Arc::new(Down),
            options(4),
            &prometheus::Registry::new(),
        )
        .await
        .unwrap();
        for i in 0..BATCHES {
            queue.write(batch(i)).await.unwrap();
        }
        assert_eq!(queue.pending_batches(), BATCHES as u64);
    }
    let storage = Arc::new(CountingStorage::default());
    let addr = serve(storage.clone()).await;
    let expected = BATCHES as usize * SERIES;

    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill schedule seed {seed}");
    let mut rng = Rng(seed);
    let mut kills = 0;
    while kills < 40 && storage.distinct() < expected * 3 / 4 {
        let mut child = spawn_child(dir.path(), &addr, 1 + rng.next(8));
        tokio::time::sleep(Duration::from_millis(30 + rng.next(220))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    // The last run finishes the replay.
    let mut child = spawn_child(dir.path(), &addr, 1 + rng.next(8));
    let deadline = Instant::now() + Duration::from_secs(60);
    while storage.distinct() < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(ACK_DELAY * 4).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let counts = storage.counts.lock().unwrap().clone();
    assert_eq!(
        counts.len(),
        expected,
        "every sample arrived ({kills} kills)"
    );
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        repeated.is_empty(),
        "samples stored more than once: {repeated:?}"
    );
    for i in 0..BATCHES {
        for j in 0..SERIES {
            assert_eq!(counts.get(&(format!("series_{j}"), 1_000 * i)), Some(&1));
        }
    }
    // Kills did land between storage applying a batch and the cursor write: those
    // batches were sent again and recognised.
    assert!(
        storage.duplicates.load(Ordering::SeqCst) > 0,
        "no replay was repeated in {kills} kills ({} writes)",
        storage.writes.load(Ordering::SeqCst)
    );
}
