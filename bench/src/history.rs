//! Part 6: history — what months of data cost on local disk and in the cold tier, how
//! fast dashboards over them answer, and what a backup and a restore take. Telltale
//! only (Prometheus has no object-storage tier), through the product's path: the real
//! `telltale standalone` binary, remote_write, `/metrics`, `/api/v1/query_range`, the
//! `backup` and `restore` commands, and a real S3 API server (moto, as the e2e tests).
//!
//! ```text
//!  1. standalone (retention per tier, no cold tier) <- --history-days of the workload,
//!     pushed in time order a day at a time (the next day built meanwhile). The
//!     standalone's self-scrape makes its newest sample "now" from the start, so the
//!     days are backfill, written straight to their day partitions; before each day the
//!     push also waits for the hour rollups to be at most PACE days behind it (a
//!     safeguard: it has not had to wait). Wait for the hour rollups of every day before
//!     the last; clean stop -> whole data directory right after the push; restart
//!     (retention's pass at the start drops the expired days written after its last
//!     pass), clean stop -> local bytes before the move (du)
//!  2. dashboards, all local: per dashboard a fresh process, each panel's first answer
//!     timed, then the panel --history-query-runs times (p50)
//!  3. moto + bucket; standalone with --cold-storage.url and --cold-after: days move;
//!     `telltale backup` of the running process to the bucket (timed, bytes listed);
//!     clean stop -> local bytes after the move (data directory minus cold-cache/) and
//!     cold bytes (ListObjectsV2 of the bucket)
//!  4. `telltale restore` into a new directory (timed, its size)
//!  5. dashboards again, each from a fresh process (cache empty: the first answer
//!     fetches objects), answers compared with step 2's; the long dashboard once more
//!     from the restored directory
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Setup;
use crate::error::{Error, Result};
use crate::measure::{self, DirSize};
use crate::queries::{self, Comparison, QueryRun, Range};
use crate::remote_write::{self, PushPlan, SendStats};
use crate::servers::Server;
use crate::workload::Fleet;

const DAY_MS: i64 = 86_400_000;
const BUCKET: &str = "telltale";
const COLD_PREFIX: &str = "cold";
const BACKUP_PREFIX: &str = "backup";

/// The product configuration the part runs with: retention and cold ages per tier.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Config {
    /// Days kept per tier (`--retention-raw`, `--retention-1m`, `--retention-1h`).
    pub retention_days: [(&'static str, i64); 3],
    /// Days after which each tier's days move (`--cold-after`).
    pub cold_after_days: [(&'static str, i64); 3],
    /// The push waits until the hour rollups are at most this many days behind it.
    pub pace_days: i64,
    /// Dashboards: name, days, step in seconds.
    pub dashboards: Vec<(String, i64, i64)>,
}

impl Config {
    /// Telltale's defaults (retention raw 7d, 1m 30d, 1h 365d; `--cold-after`'s default
    /// for these tiers: raw 3d, 1m 14d, 1h 60d) for 60 days of data or more; a
    /// compressed version of them for the shorter pushes of `--quick`.
    pub fn for_days(days: i64) -> Config {
        if days >= 60 {
            Config {
                retention_days: [("raw", 7), ("1m", 30), ("1h", 365)],
                cold_after_days: [("raw", 3), ("1m", 14), ("1h", 60)],
                pace_days: 4,
                dashboards: vec![
                    (format!("{days} days at 1h (hour tier)"), days, 3600),
                    ("28 days at 5m (minute tier)".into(), 28, 300),
                    ("5 days at 1m (raw)".into(), 5, 60),
                ],
            }
        } else {
            Config {
                retention_days: [("raw", 3), ("1m", 6), ("1h", 365)],
                cold_after_days: [("raw", 1), ("1m", 2), ("1h", 4)],
                pace_days: 1,
                dashboards: vec![
                    (format!("{days} days at 1h (hour tier)"), days, 3600),
                    ("4 days at 5m (minute tier)".into(), 4, 300),
                    ("1 day at 1m (raw)".into(), 1, 60),
                ],
            }
        }
    }

    fn retention_flags(&self) -> Vec<String> {
        self.retention_days
            .iter()
            .flat_map(|(t, d)| [format!("--retention-{t}"), format!("{d}d")])
            .collect()
    }

    fn cold_after(&self) -> String {
        self.cold_after_days
            .iter()
            .map(|(t, d)| format!("{t}:{d}d"))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn retention_of(&self, tier: &str) -> i64 {
        self.retention_days
            .iter()
            .find(|(t, _)| *t == tier)
            .map_or(0, |(_, d)| *d)
    }
}

/// The dashboard panels: the same three on every dashboard.
pub fn panels() -> Vec<queries::Query> {
    let q = |name, promql: &str| queries::Query {
        name,
        promql: promql.to_string(),
    };
    vec![
        q(
            "cpu rate by instance [1h]",
            r#"sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[1h]))"#,
        ),
        q("load1 max over a day", "max_over_time(node_load1[1d])"),
        q(
            "heap p99 over an hour",
            "quantile_over_time(0.99, go_memstats_heap_alloc_bytes[1h])",
        ),
    ]
}

/// One panel of one dashboard, in one phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PanelFigures {
    pub name: &'static str,
    pub promql: String,
    /// The first answer of a fresh process (read cache empty).
    pub first_ms: f64,
    pub warm: QueryRun,
}

/// One dashboard in one phase.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DashboardFigures {
    pub name: String,
    pub range: Range,
    pub panels: Vec<PanelFigures>,
    /// The panels' first answers one after the other: opening the dashboard.
    pub first_total_ms: f64,
    pub warm_p50_total_ms: f64,
    /// The read cache directory after the process stopped (objects fetched to disk).
    pub cold_cache_after: DirSize,
}

/// The per-tier figures `/metrics` reports (`telltale_storage_*{tier}`).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TierGauges {
    pub tier: String,
    pub disk_bytes: f64,
    pub cold_days: f64,
    pub cold_object_bytes: f64,
}

/// Objects under a prefix of the bucket.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Listing {
    pub objects: usize,
    pub bytes: u64,
    /// Per first path segment below the prefix (e.g. `shard-0/raw`): objects, bytes.
    pub by_group: Vec<(String, usize, u64)>,
}

/// Everything the part measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HistoryFigures {
    pub config: Config,
    pub series: usize,
    pub interval_s: u64,
    pub days: usize,
    pub samples: u64,
    pub data_start_ms: i64,
    pub data_end_ms: i64,
    pub push: SendStats,
    pub push_cpu_s: f64,
    /// Time the push waited for rollups (included in `push.wall_s`).
    pub push_paced_s: f64,
    /// From the last request to the hour rollups of every day before the last.
    pub rollup_wait_s: f64,
    pub tiers_before: Vec<TierGauges>,
    /// Whole data directory after the push's clean stop, all local.
    pub local_after_push: DirSize,
    /// Whole data directory after a restart (retention applied) and a clean stop.
    pub local_before: DirSize,
    pub local_before_top: Vec<(String, DirSize)>,
    pub expected_cold_days: Vec<(String, i64)>,
    /// From the cold-tier process's readiness to the expected days moved.
    pub move_s: f64,
    pub tiers_after: Vec<TierGauges>,
    /// Data directory after a clean stop, minus `cold-cache/`.
    pub local_after: DirSize,
    pub cold_cache_at_stop: DirSize,
    pub local_after_top: Vec<(String, DirSize)>,
    /// The same after the dashboards' processes (restarts) stopped: a standalone keeps
    /// the Raft snapshot checkpoint its start made (`snapshots/send-*`) until the next
    /// start, and the one of the moving process still links the moved days' files.
    pub local_after_restart: DirSize,
    pub local_after_restart_top: Vec<(String, DirSize)>,
    pub cold: Listing,
    pub backup_s: f64,
    pub backup: Listing,
    pub restore_s: f64,
    pub restored: DirSize,
    pub local: Vec<DashboardFigures>,
    pub cold_dashboards: Vec<DashboardFigures>,
    /// The first dashboard from the restored directory (cold tier on, cache empty).
    pub restored_dashboard: Option<DashboardFigures>,
    /// Answers after the move (and after the restore) against the all-local ones.
    pub comparisons: Vec<Comparison>,
    pub warnings: Vec<String>,
}

impl HistoryFigures {
    pub fn per_sample(&self, bytes: u64) -> f64 {
        bytes as f64 / self.samples as f64
    }
}

/// `name{labels} value` lines of a `/metrics` answer, the value of the first line that
/// starts with `name_labels` (0 when absent).
pub fn metric(text: &str, name_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_labels) && l[name_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The server's `/metrics` page.
pub async fn metrics_text(setup: &Setup, server: &Server) -> Result<String> {
    let url = format!("{}/metrics", server.url);
    let r = setup
        .client
        .get(&url)
        .send()
        .await
        .map_err(Error::http(&url))?;
    r.text().await.map_err(Error::http(&url))
}

async fn tier_gauges(setup: &Setup, server: &Server) -> Result<Vec<TierGauges>> {
    let text = metrics_text(setup, server).await?;
    Ok(["raw", "1m", "1h"]
        .iter()
        .map(|t| {
            let m = |name: &str| metric(&text, &format!("{name}{{tier=\"{t}\"}}"));
            TierGauges {
                tier: t.to_string(),
                disk_bytes: m("telltale_storage_disk_bytes"),
                cold_days: m("telltale_storage_cold_days"),
                cold_object_bytes: m("telltale_storage_cold_object_bytes"),
            }
        })
        .collect())
}

/// Waits until `name_labels` on the server's `/metrics` is at least `want`.
async fn wait_metric(
    setup: &Setup,
    server: &mut Server,
    name_labels: &str,
    want: f64,
    within: Duration,
) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        server.check_alive()?;
        let got = metric(&metrics_text(setup, server).await?, name_labels);
        if got >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Invalid {
                what: "waiting for the server",
                detail: format!(
                    "{name_labels} is {got} after {} s, want {want}",
                    within.as_secs()
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The days of each tier the cold tier should hold once moves are done, as the
/// engine's rule: older than the tier's age, not expiring within a day, holding data.
fn expected_cold_days(config: &Config, first_day: i64, newest_ms: i64) -> Vec<(String, i64)> {
    config
        .cold_after_days
        .iter()
        .map(|(tier, after)| {
            let before = day_of(newest_ms - after * DAY_MS);
            let expires = day_of(newest_ms - config.retention_of(tier) * DAY_MS) + 1;
            (tier.to_string(), (before - first_day.max(expires)).max(0))
        })
        .collect()
}

/// Starts a standalone on `dir` with `flags` and `env`, waiting for readiness.
async fn start(
    setup: &Setup,
    dir: &Path,
    flags: &[String],
    env: &[(String, String)],
) -> Result<Server> {
    let mut extra = flags.to_vec();
    if !setup.result_cache {
        extra.extend(["--result-cache-bytes".to_string(), "0".to_string()]);
    }
    let mut server = Server::telltale_standalone_env(&setup.telltale, dir, &extra, env)?;
    server
        .wait_ready(&setup.client, setup.ready_timeout)
        .await?;
    Ok(server)
}

/// Runs one dashboard on a fresh process: each panel's first answer, then `runs` more.
async fn dashboard(
    setup: &Setup,
    dir: &Path,
    flags: &[String],
    env: &[(String, String)],
    (name, range): (&str, Range),
    runs: usize,
) -> Result<DashboardFigures> {
    let mut server = start(setup, dir, flags, env).await?;
    let mut panels = Vec::new();
    for q in panels_list() {
        let started = Instant::now();
        let body = queries::query_range(&setup.client, &server.url, &q.promql, range).await?;
        let first_ms = started.elapsed().as_secs_f64() * 1e3;
        let answer = queries::parse_matrix(&body)?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let body = queries::query_range(&setup.client, &server.url, &q.promql, range).await?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(body);
        }
        panels.push(PanelFigures {
            name: q.name,
            promql: q.promql.clone(),
            first_ms,
            warm: QueryRun {
                name: q.name,
                promql: q.promql,
                p50_ms: queries::percentile(&times, 0.5),
                p90_ms: queries::percentile(&times, 0.9),
                runs_ms: times,
                series: answer.len(),
                points: answer.values().map(Vec::len).sum(),
                answer,
            },
        });
    }
    server.check_alive()?;
    server.stop(setup.stop_timeout).await?;
    let first_total_ms = panels.iter().map(|p| p.first_ms).sum();
    let warm_p50_total_ms = panels.iter().map(|p| p.warm.p50_ms).sum();
    Ok(DashboardFigures {
        name: name.to_string(),
        range,
        panels,
        first_total_ms,
        warm_p50_total_ms,
        cold_cache_after: measure::dir_size(&dir.join("cold-cache")),
    })
}

fn panels_list() -> Vec<queries::Query> {
    panels()
}

/// Lists `prefix` in `bucket` (S3 ListObjectsV2, unsigned: moto takes it), grouped by
/// the first two path segments below the prefix.
async fn list(setup: &Setup, endpoint: &str, bucket: &str, prefix: &str) -> Result<Listing> {
    let mut out = Listing::default();
    let mut groups: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
    let mut token: Option<String> = None;
    loop {
        let url = format!("{endpoint}/{bucket}");
        let mut params = vec![
            ("list-type", "2".to_string()),
            ("prefix", format!("{prefix}/")),
        ];
        if let Some(t) = &token {
            params.push(("continuation-token", t.clone()));
        }
        let xml = setup
            .client
            .get(&url)
            .query(&params)
            .send()
            .await
            .map_err(Error::http(&url))?
            .text()
            .await
            .map_err(Error::http(&url))?;
        for contents in xml.split("<Contents>").skip(1) {
            let field = |name: &str| -> Option<&str> {
                let open = format!("<{name}>");
                let start = contents.find(&open)? + open.len();
                let end = contents[start..].find(&format!("</{name}>"))?;
                Some(&contents[start..start + end])
            };
            let (Some(key), Some(size)) = (field("Key"), field("Size")) else {
                continue;
            };
            let size: u64 = size.parse().unwrap_or(0);
            out.objects += 1;
            out.bytes += size;
            let rest = key
                .strip_prefix(prefix)
                .unwrap_or(key)
                .trim_start_matches('/');
            let group: Vec<&str> = rest.split('/').take(2).collect();
            let group = if group.len() == 2 {
                group.join("/")
            } else {
                String::new()
            };
            let g = groups.entry(group).or_default();
            g.0 += 1;
            g.1 += size;
        }
        if !xml.contains("<IsTruncated>true</IsTruncated>") {
            break;
        }
        token = xml
            .split("<NextContinuationToken>")
            .nth(1)
            .and_then(|t| t.split("</NextContinuationToken>").next())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    out.by_group = groups.into_iter().map(|(g, (n, b))| (g, n, b)).collect();
    Ok(out)
}
/// Runs `telltale ARGS` with `env`, timed; an error with its output when it fails.
async fn command(setup: &Setup, args: &[String], env: &[(String, String)]) -> Result<f64> {
    let started = Instant::now();
    let out = tokio::process::Command::new(&setup.telltale)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .await
        .map_err(Error::io("cannot run", &setup.telltale))?;
    let took = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(Error::Invalid {
            what: "telltale command",
            detail: format!(
                "telltale {} exited {}: {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(took)
}

fn dashboards_of(config: &Config, end_ms: i64) -> Vec<(String, Range)> {
    let end_s = end_ms / 1000;
    config
        .dashboards
        .iter()
        .map(|(name, days, step)| {
            let end = end_s.div_euclid(*step) * step;
            // The first step one step after the data's first day starts.
            let start = (end_s - days * 86_400).div_euclid(*step) * step + step;
            (
                name.clone(),
                Range {
                    start,
                    end,
                    step: *step,
                },
            )
        })
        .collect()
}

/// Relative difference answers may have after the move: none (the same data).
const TOLERANCE: f64 = 1e-9;

fn compare_dashboards(
    who: &str,
    local: &DashboardFigures,
    other: &DashboardFigures,
    comparisons: &mut Vec<Comparison>,
    warnings: &mut Vec<String>,
) {
    for (a, b) in other.panels.iter().zip(&local.panels) {
        let mut c = queries::compare(&a.warm, &b.warm, TOLERANCE);
        if c.mismatches > 0 || c.series.0 != c.series.1 {
            warnings.push(format!(
                "{who}: {:?} on {:?} differs from the all-local answer: series {} vs {}, {} points differ; first: {}",
                a.name,
                local.name,
                c.series.0,
                c.series.1,
                c.mismatches,
                c.first_difference.as_deref().unwrap_or("-")
            ));
        }
        c.name = a.name;
        comparisons.push(c);
    }
}

/// Runs the whole part.
pub async fn run(setup: &Setup, tag: &str, moto_bin: &Path) -> Result<HistoryFigures> {
    let sizes = &setup.sizes;
    let config = Config::for_days(sizes.history_days as i64);
    let interval_ms = sizes.interval_s as i64 * 1000;
    let end_ms = telltale_model::now_ms() / interval_ms * interval_ms;
    let steps_per_day = (DAY_MS / interval_ms) as usize;
    let plan = PushPlan {
        fleet: Fleet::new(sizes.history_series, sizes.seed ^ 0x4157)?,
        points: sizes.history_days * steps_per_day,
        interval_ms,
        end_ms,
        senders: sizes.senders,
        request_samples: sizes.request_samples,
    };
    let start_ms = plan.start_ms();
    let data = crate::ingest::fresh_dir(setup, &format!("{tag}-history"))?;
    let mut warnings = Vec::new();
    let base_flags = config.retention_flags();

    // 1. The push, a day at a time, paced by the hour rollups.
    println!(
        "  history: {} series × {} days at {} s = {} samples, ending {}",
        plan.fleet.series(),
        sizes.history_days,
        sizes.interval_s,
        plan.fleet.series() as u64 * plan.points as u64,
        telltale_model::format_rfc3339(end_ms)
    );
    let mut server = start(setup, &data, &base_flags, &[]).await?;
    let cpu_before = measure::cpu_seconds(server.pid(), setup.ticks)?;
    let write_url = format!("{}/api/v1/write", server.url);
    let plan = Arc::new(plan);
    let blocks = sizes.history_days;
    let build = move |plan: Arc<PushPlan>,
                      mut instances: Vec<crate::workload::Instance>,
                      k: usize| {
        tokio::task::spawn_blocking(move || {
            let push = plan.build_steps(&mut instances, k * steps_per_day..(k + 1) * steps_per_day);
            (instances, push)
        })
    };
    let mut next = Some(build(plan.clone(), plan.fleet.instances(), 0));
    let mut total = SendStats::default();
    let mut paced = 0.0;
    let push_started = Instant::now();
    for k in 0..blocks {
        let (instances, push) =
            next.take()
                .expect("a block is being built")
                .await
                .map_err(|e| Error::Invalid {
                    what: "building the push",
                    detail: e.to_string(),
                })?;
        if k + 1 < blocks {
            next = Some(build(plan.clone(), instances, k + 1));
        }
        let block_start = start_ms + k as i64 * DAY_MS;
        let behind = day_of(block_start) - config.pace_days;
        if k as i64 > config.pace_days {
            let waited = Instant::now();
            wait_metric(
                setup,
                &mut server,
                "telltale_storage_rollup_complete_until_timestamp_seconds{tier=\"1h\"}",
                (behind * 86_400) as f64,
                Duration::from_secs(900),
            )
            .await?;
            paced += waited.elapsed().as_secs_f64();
        }
        let s = remote_write::send(
            &setup.client,
            &write_url,
            &Arc::new(push),
            sizes.slack_steps,
        )
        .await?;
        total.requests += s.requests;
        total.samples += s.samples;
        total.failed += s.failed;
        total.retries += s.retries;
        if total.first_error.is_none() {
            total.first_error = s.first_error;
        }
        if (k + 1) % 10 == 0 || k + 1 == blocks {
            println!(
                "  day {}/{blocks} pushed, {:.0} s, {:.0} samples/s",
                k + 1,
                push_started.elapsed().as_secs_f64(),
                total.samples as f64 / push_started.elapsed().as_secs_f64()
            );
        }
    }
    total.wall_s = push_started.elapsed().as_secs_f64();
    let push_cpu_s = measure::cpu_seconds(server.pid(), setup.ticks)? - cpu_before;
    if total.failed > 0 {
        warnings.push(format!(
            "history: {} of {} requests refused; first: {}",
            total.failed,
            total.requests,
            total.first_error.as_deref().unwrap_or("")
        ));
    }
    let rollups = Instant::now();
    wait_metric(
        setup,
        &mut server,
        "telltale_storage_rollup_complete_until_timestamp_seconds{tier=\"1h\"}",
        (day_of(end_ms) * 86_400) as f64,
        Duration::from_secs(1800),
    )
    .await?;
    let rollup_wait_s = rollups.elapsed().as_secs_f64();
    println!("  hour rollups complete {rollup_wait_s:.0} s after the push");
    // The disk gauges refresh every 10 s.
    tokio::time::sleep(Duration::from_secs(11)).await;
    server.stop(setup.stop_timeout).await?;
    let local_after_push = measure::dir_size(&data);
    // The process's own self-scrape makes its newest sample "now" from the start, so
    // the pushed days are backfill, and retention drops expired days when its cutoff
    // day moves or at a start: days written after its last pass are still on disk.
    // A restart applies it; measured after the restart's clean stop.
    let server = start(setup, &data, &base_flags, &[]).await?;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let tiers_before = tier_gauges(setup, &server).await?;
    server.stop(setup.stop_timeout).await?;
    let local_before = measure::dir_size(&data);
    let local_before_top = measure::top_level_sizes(&data);
    println!(
        "  all local after a clean stop: {:.1} MiB right after the push, {:.1} MiB after a restart ({:.3} bytes per sample)",
        local_after_push.allocated as f64 / MIB,
        local_before.allocated as f64 / MIB,
        local_before.allocated as f64 / total.samples.max(1) as f64
    );

    // 2. Dashboards, all local.
    let dashboards = dashboards_of(&config, end_ms);
    let runs = sizes.history_query_runs;
    let mut local = Vec::new();
    for (name, range) in &dashboards {
        let d = dashboard(setup, &data, &base_flags, &[], (name, *range), runs).await?;
        println!(
            "  local {name}: first {:.0} ms, warm p50 {:.0} ms",
            d.first_total_ms, d.warm_p50_total_ms
        );
        local.push(d);
    }

    // 3. The cold tier.
    let moto_log = setup.work.join(format!("{tag}-moto"));
    let mut moto = Server::moto(moto_bin, &moto_log)?;
    moto.wait_http(&setup.client, "/", Duration::from_secs(60))
        .await?;
    let bucket_url = format!("{}/{BUCKET}", moto.url);
    let r = setup
        .client
        .put(&bucket_url)
        .send()
        .await
        .map_err(Error::http(&bucket_url))?;
    if !r.status().is_success() {
        return Err(Error::Status {
            url: bucket_url,
            status: r.status().as_u16(),
            body: r.text().await.unwrap_or_default(),
        });
    }
    let env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    let mut cold_flags = base_flags.clone();
    cold_flags.extend([
        "--cold-storage.url".to_string(),
        format!("s3://{BUCKET}/{COLD_PREFIX}"),
        "--cold-after".into(),
        config.cold_after(),
        "--cold-storage.move-interval".into(),
        "1s".into(),
    ]);
    let mut admin_flags = cold_flags.clone();
    admin_flags.push("--web.enable-admin-api".into());
    let moving = Instant::now();
    let mut server = start(setup, &data, &admin_flags, &env).await?;
    // Ages count from the newest sample (the self-scrape's, else the push's last).
    let mut newest_s = 0.0;
    for _ in 0..40 {
        newest_s = metric(
            &metrics_text(setup, &server).await?,
            "telltale_storage_newest_sample_timestamp_seconds",
        );
        if newest_s > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let newest_ms = if newest_s > 0.0 {
        (newest_s * 1000.0) as i64
    } else {
        end_ms
    };
    let expected = expected_cold_days(&config, day_of(start_ms), newest_ms);
    for (tier, days) in &expected {
        wait_metric(
            setup,
            &mut server,
            &format!("telltale_storage_cold_days{{tier=\"{tier}\"}}"),
            *days as f64,
            Duration::from_secs(1800),
        )
        .await?;
    }
    let move_s = moving.elapsed().as_secs_f64();
    println!("  {expected:?} days moved in {move_s:.0} s");
    tokio::time::sleep(Duration::from_secs(11)).await;
    let tiers_after = tier_gauges(setup, &server).await?;
    for (g, (tier, days)) in tiers_after.iter().zip(&expected) {
        if g.cold_days as i64 != *days {
            warnings.push(format!(
                "history: {tier} has {} cold days, {days} expected",
                g.cold_days
            ));
        }
    }
    let backup_s = command(
        setup,
        &[
            "backup".into(),
            "--url".into(),
            server.url.clone(),
            "--to".into(),
            format!("s3://{BUCKET}/{BACKUP_PREFIX}"),
        ],
        &env,
    )
    .await?;
    let backup = list(setup, &moto.url, BUCKET, BACKUP_PREFIX).await?;
    println!(
        "  backup: {backup_s:.1} s, {} objects, {:.1} MiB",
        backup.objects,
        backup.bytes as f64 / MIB
    );
    server.stop(setup.stop_timeout).await?;
    let whole = measure::dir_size(&data);
    let cold_cache_at_stop = measure::dir_size(&data.join("cold-cache"));
    let local_after = DirSize {
        allocated: whole.allocated - cold_cache_at_stop.allocated,
        apparent: whole.apparent - cold_cache_at_stop.apparent,
    };
    let local_after_top = measure::top_level_sizes(&data);
    let cold = list(setup, &moto.url, BUCKET, COLD_PREFIX).await?;
    println!(
        "  after the move: local {:.1} MiB, cold {} objects {:.1} MiB",
        local_after.allocated as f64 / MIB,
        cold.objects,
        cold.bytes as f64 / MIB
    );

    // 4. Restore.
    let restored_dir = setup.work.join(format!("{tag}-restored"));
    if restored_dir.exists() {
        std::fs::remove_dir_all(&restored_dir)
            .map_err(Error::io("cannot remove", &restored_dir))?;
    }
    let restore_s = command(
        setup,
        &[
            "restore".into(),
            "--from".into(),
            format!("s3://{BUCKET}/{BACKUP_PREFIX}"),
            "--data-dir".into(),
            restored_dir.display().to_string(),
        ],
        &env,
    )
    .await?;
    let restored = measure::dir_size(&restored_dir);
    println!(
        "  restore: {restore_s:.1} s, {:.1} MiB",
        restored.allocated as f64 / MIB
    );

    // 5. Dashboards with days in the cold tier, each from a fresh process.
    let mut cold_dashboards = Vec::new();
    let mut comparisons = Vec::new();
    for ((name, range), before) in dashboards.iter().zip(&local) {
        let d = dashboard(setup, &data, &cold_flags, &env, (name, *range), runs).await?;
        println!(
            "  cold {name}: first {:.0} ms (cache empty; {:.1} MiB fetched), warm p50 {:.0} ms",
            d.first_total_ms,
            d.cold_cache_after.apparent as f64 / MIB,
            d.warm_p50_total_ms
        );
        compare_dashboards(
            "after the move",
            before,
            &d,
            &mut comparisons,
            &mut warnings,
        );
        cold_dashboards.push(d);
    }
    let restored_dashboard = match (dashboards.first(), local.first()) {
        (Some((name, range)), Some(before)) => {
            let d = dashboard(setup, &restored_dir, &cold_flags, &env, (name, *range), 0).await?;
            println!("  restored {name}: first {:.0} ms", d.first_total_ms);
            compare_dashboards("restored", before, &d, &mut comparisons, &mut warnings);
            Some(d)
        }
        _ => None,
    };
    drop(moto);
    let whole = measure::dir_size(&data);
    let cache = measure::dir_size(&data.join("cold-cache"));
    let local_after_restart = DirSize {
        allocated: whole.allocated - cache.allocated,
        apparent: whole.apparent - cache.apparent,
    };
    let local_after_restart_top = measure::top_level_sizes(&data);
    crate::ingest::discard(setup, &data);
    crate::ingest::discard(setup, &restored_dir);
    Ok(HistoryFigures {
        config,
        series: plan.fleet.series(),
        interval_s: sizes.interval_s,
        days: sizes.history_days,
        samples: total.samples,
        data_start_ms: start_ms,
        data_end_ms: end_ms,
        push: total,
        push_cpu_s,
        push_paced_s: paced,
        rollup_wait_s,
        tiers_before,
        local_after_push,
        local_before,
        local_before_top,
        expected_cold_days: expected,
        move_s,
        tiers_after,
        local_after,
        cold_cache_at_stop,
        local_after_top,
        local_after_restart,
        local_after_restart_top,
        cold,
        backup_s,
        backup,
        restore_s,
        restored,
        local,
        cold_dashboards,
        restored_dashboard,
        comparisons,
        warnings,
    })
}

const MIB: f64 = 1024.0 * 1024.0;

/// The part's rows for the repetition's table (Telltale only).
pub fn rows(h: &HistoryFigures) -> Vec<(String, f64)> {
    let mut rows = vec![
        (
            "history: samples pushed (millions)".to_string(),
            h.samples as f64 / 1e6,
        ),
        (
            "history: push samples per second".into(),
            h.samples as f64 / h.push.wall_s,
        ),
        (
            "history: bytes per sample, all local right after the push (data dir)".into(),
            h.per_sample(h.local_after_push.allocated),
        ),
        (
            "history: bytes per sample, all local after a restart (data dir)".into(),
            h.per_sample(h.local_before.allocated),
        ),
        (
            "history: bytes per sample, local after the move (minus cold-cache/)".into(),
            h.per_sample(h.local_after.allocated),
        ),
        (
            "history: bytes per sample, local after restarts (minus cold-cache/)".into(),
            h.per_sample(h.local_after_restart.allocated),
        ),
        (
            "history: bytes per sample, cold tier (objects in the bucket)".into(),
            h.per_sample(h.cold.bytes),
        ),
        ("history: seconds to move the days".into(), h.move_s),
        ("history: backup seconds".into(), h.backup_s),
        ("history: backup MiB".into(), h.backup.bytes as f64 / MIB),
        ("history: restore seconds".into(), h.restore_s),
        (
            "history: restored directory MiB".into(),
            h.restored.allocated as f64 / MIB,
        ),
    ];
    for (l, c) in h.local.iter().zip(&h.cold_dashboards) {
        rows.push((
            format!("history: {} all local, first ms", l.name),
            l.first_total_ms,
        ));
        rows.push((
            format!("history: {} cold, first ms (cache empty)", l.name),
            c.first_total_ms,
        ));
        rows.push((
            format!("history: {} all local, warm p50 ms", l.name),
            l.warm_p50_total_ms,
        ));
        rows.push((
            format!("history: {} cold, warm p50 ms", l.name),
            c.warm_p50_total_ms,
        ));
    }
    rows
}

/// The part's details: per tier, per bucket group, per panel.
pub fn print(h: &HistoryFigures) {
    let samples_per_day = h.series as f64 * 86_400.0 / h.interval_s as f64;
    println!(
        "history: {} series × {} days, {} samples; push {:.0} s ({:.0} s waiting for rollups), {:.2} CPU-s per million; rollups done {:.0} s after",
        h.series,
        h.days,
        h.samples,
        h.push.wall_s,
        h.push_paced_s,
        h.push_cpu_s / (h.samples as f64 / 1e6),
        h.rollup_wait_s
    );
    println!(
        "| tier | local MiB before | local MiB after | cold days | cold MiB | cold bytes per raw sample of a cold day |"
    );
    println!("|---|---|---|---|---|---|");
    for (b, a) in h.tiers_before.iter().zip(&h.tiers_after) {
        let per_day = if a.cold_days > 0.0 {
            a.cold_object_bytes / a.cold_days / samples_per_day
        } else {
            f64::NAN
        };
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} | {:.3} |",
            b.tier,
            b.disk_bytes / MIB,
            a.disk_bytes / MIB,
            a.cold_days,
            a.cold_object_bytes / MIB,
            per_day
        );
    }
    let top = |t: &[(String, DirSize)]| {
        t.iter()
            .map(|(n, s)| format!("{n} {:.1}", s.allocated as f64 / MIB))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("data dir before (MiB): {}", top(&h.local_before_top));
    println!("data dir after the move (MiB): {}", top(&h.local_after_top));
    println!(
        "data dir after restarts (MiB): {}",
        top(&h.local_after_restart_top)
    );
    for (g, n, b) in &h.cold.by_group {
        println!(
            "bucket {COLD_PREFIX}/{g}: {n} objects, {:.1} MiB",
            *b as f64 / MIB
        );
    }
    println!(
        "| dashboard | panel | local first ms | local p50 ms | cold first ms | cold p50 ms | points |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (l, c) in h.local.iter().zip(&h.cold_dashboards) {
        for (lp, cp) in l.panels.iter().zip(&c.panels) {
            println!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                l.name,
                lp.name,
                lp.first_ms,
                lp.warm.p50_ms,
                cp.first_ms,
                cp.warm.p50_ms,
                lp.warm.points
            );
        }
    }
    if let Some(r) = &h.restored_dashboard {
        println!(
            "restored directory, {}: first {:.0} ms",
            r.name, r.first_total_ms
        );
    }
    for c in &h.comparisons {
        println!(
            "answers {:<28} series {} / {}, points {} / {}, differing {}",
            c.name, c.series.0, c.series.1, c.points.0, c.points.1, c.mismatches
        );
    }
}

/// Where moto's server is by default (the tests' venv, scripts/requirements-test.txt).
pub fn default_moto() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/telltale-venv/bin/moto_server")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_days_expected_as_the_engine_moves_them() {
        let c = Config::for_days(90);
        // Newest sample at noon of day 1000; data from day 910.
        let newest = 1000 * DAY_MS + DAY_MS / 2;
        let got = expected_cold_days(&c, 910, newest);
        // raw: days 994..=996 (993 expires within a day, 997 is under 3 days old).
        // 1m: days 971..=985. 1h: days 910..=939.
        assert_eq!(
            got,
            [
                ("raw".to_string(), 3),
                ("1m".to_string(), 15),
                ("1h".to_string(), 30)
            ]
        );
    }

    #[test]
    fn metric_lines_by_name_and_labels() {
        let text = "# HELP x y\nx{tier=\"raw\"} 12\nx{tier=\"raw2\"} 5\nx_total 3\n";
        assert_eq!(metric(text, "x{tier=\"raw\"}"), 12.0);
        assert_eq!(metric(text, "x{tier=\"1h\"}"), 0.0);
        assert_eq!(metric(text, "x"), 0.0);
    }

    #[test]
    fn dashboards_end_on_a_step_and_span_their_days() {
        let c = Config::for_days(90);
        let end = 1_700_000_123_000;
        for (_, r) in dashboards_of(&c, end) {
            assert_eq!(r.end % r.step, 0);
            assert_eq!(r.start % r.step, 0);
            assert!(r.end <= end / 1000 && r.start > r.end - 90 * 86_400);
        }
    }
}
