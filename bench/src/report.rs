//! Results: one record per repetition, turned into rows of "figure, Telltale,
//! Prometheus, ratio" for the tables printed after each repetition and for the summary
//! over all of them; everything also goes to the `--out` JSON file.

use std::collections::BTreeMap;

use crate::cluster::ClusterFigures;
use crate::disk::DiskFigures;
use crate::histograms::HistogramFigures;
use crate::history::HistoryFigures;
use crate::ingest::{IngestFigures, Side};
use crate::queries::{Comparison, QueryRun};
use crate::scrape::ScrapeFigures;

/// Everything one repetition measured.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Repetition {
    pub index: usize,
    /// Which server ran first in each part of this repetition.
    pub first: Option<Side>,
    pub ingest: Vec<IngestFigures>,
    pub queries: BTreeMap<&'static str, Vec<QueryRun>>,
    /// Telltale's answers against Prometheus's.
    pub comparisons: Vec<Comparison>,
    pub scrape: Vec<ScrapeFigures>,
    pub disk: Vec<DiskFigures>,
    pub cluster: Option<ClusterFigures>,
    /// The dev-cluster's answers against Prometheus's.
    pub cluster_comparisons: Vec<Comparison>,
    pub history: Option<HistoryFigures>,
    /// The histograms part, per server, and its checks' answers compared.
    pub histograms: Vec<HistogramFigures>,
    pub histogram_comparisons: Vec<Comparison>,
    /// Answers that differ, refused requests, targets down.
    pub warnings: Vec<String>,
    /// Checks skipped (e.g. a query Telltale cannot answer yet).
    pub notes: Vec<String>,
    /// Parts that could not be measured.
    pub errors: Vec<String>,
    pub rows: Vec<Row>,
}

/// One figure of both servers.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Row {
    pub figure: String,
    pub telltale: Option<f64>,
    pub prometheus: Option<f64>,
}

impl Row {
    pub fn ratio(&self) -> Option<f64> {
        Some(self.telltale? / self.prometheus?)
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// A row's name and how to read it from one server's figures.
pub type Figure<T> = (&'static str, fn(&T) -> f64);

fn pick<T>(items: &[T], side: Side, of: impl Fn(&T) -> Side) -> Option<&T> {
    items.iter().find(|i| of(i) == side)
}

impl Repetition {
    /// The figures as rows, in table order.
    pub fn build_rows(&mut self) {
        let mut rows = Vec::new();
        let mut row = |figure: String, t: Option<f64>, p: Option<f64>| {
            if t.is_some() || p.is_some() {
                rows.push(Row {
                    figure,
                    telltale: t,
                    prometheus: p,
                });
            }
        };
        let ing = |s| pick(&self.ingest, s, |f| f.server);
        let (ti, pi) = (ing(Side::Telltale), ing(Side::Prometheus));
        let ingest: [Figure<IngestFigures>; 7] = [
            ("ingest: CPU-s per million samples", |f| f.cpu_s_per_million),
            ("ingest: peak RSS (VmHWM), MiB", |f| {
                f.vm_hwm_bytes as f64 / MIB
            }),
            ("ingest: largest sampled RSS, MiB", |f| {
                f.rss_max_bytes as f64 / MIB
            }),
            ("ingest: wall time, s", |f| f.wall_s),
            ("ingest: samples per second", |f| f.samples_per_s),
            ("ingest: CPU-s in the settle pause after", |f| {
                f.settle_cpu_s
            }),
            ("ingest: other processes' load meanwhile, cores", |f| {
                f.other_cores
            }),
        ];
        for (name, f) in ingest {
            row(name.to_string(), ti.map(f), pi.map(f));
        }
        let runs = |s: Side| self.queries.get(s.name());
        let (tq, pq) = (runs(Side::Telltale), runs(Side::Prometheus));
        let names: Vec<(&str, String)> = tq
            .or(pq)
            .map(|r| r.iter().map(|q| (q.name, q.promql.clone())).collect())
            .unwrap_or_default();
        let find = |runs: Option<&Vec<QueryRun>>, name: &str| -> Option<QueryRun> {
            runs?.iter().find(|q| q.name == name).cloned()
        };
        for (name, _) in &names {
            let (t, p) = (find(tq, name), find(pq, name));
            row(
                format!("query p50 ms: {name}"),
                t.as_ref().map(|q| q.p50_ms),
                p.as_ref().map(|q| q.p50_ms),
            );
        }
        for (name, _) in &names {
            let (t, p) = (find(tq, name), find(pq, name));
            row(
                format!("query p90 ms: {name}"),
                t.map(|q| q.p90_ms),
                p.map(|q| q.p90_ms),
            );
        }
        let sc = |s| pick(&self.scrape, s, |f| f.server);
        let (ts, ps) = (sc(Side::Telltale), sc(Side::Prometheus));
        let scrape: [Figure<ScrapeFigures>; 5] = [
            ("scrape: CPU-s per million samples", |f| f.cpu_s_per_million),
            ("scrape: peak RSS (VmHWM), MiB", |f| {
                f.vm_hwm_bytes as f64 / MIB
            }),
            ("scrape: largest sampled RSS, MiB", |f| {
                f.rss_max_bytes as f64 / MIB
            }),
            ("scrape: targets up after the window", |f| {
                f.up_after.0 as f64
            }),
            ("scrape: other processes' load meanwhile, cores", |f| {
                f.other_cores
            }),
        ];
        for (name, f) in scrape {
            row(name.to_string(), ts.map(f), ps.map(f));
        }
        let dk = |s| pick(&self.disk, s, |f| f.server);
        let (td, pd) = (dk(Side::Telltale), dk(Side::Prometheus));
        let disk: [Figure<DiskFigures>; 5] = [
            ("disk: bytes per sample, largest during ingest", |f| {
                f.bytes_per_sample_during
            }),
            (
                "disk: apparent bytes per sample, largest during ingest",
                |f| f.during_max.apparent as f64 / f.samples as f64,
            ),
            ("disk: bytes per sample after the settle pause", |f| {
                f.bytes_per_sample_after_settle
            }),
            ("disk: bytes per sample after a clean stop", |f| {
                f.bytes_per_sample_after
            }),
            ("disk: apparent bytes per sample after the stop", |f| {
                f.apparent_bytes_per_sample_after
            }),
        ];
        for (name, f) in disk {
            row(name.to_string(), td.map(f), pd.map(f));
        }
        if let Some(c) = &self.cluster {
            let p_cpu = pi.map(|f| f.cpu_s_per_million);
            row(
                "cluster: replicas' CPU-s per million samples (sum)".into(),
                Some(c.replicas_cpu_s_per_million),
                p_cpu,
            );
            row(
                "cluster: all processes' CPU-s per million samples".into(),
                Some(c.total_cpu_s_per_million),
                p_cpu,
            );
            row(
                "cluster: dev-cluster process CPU-s per million".into(),
                Some(c.parent.cpu_s_per_million),
                None,
            );
            for r in &c.replicas {
                row(
                    format!(
                        "cluster: shard {} replica {} CPU-s per million of its shard",
                        r.shard, r.replica
                    ),
                    Some(r.cpu_s_per_million_of_share),
                    p_cpu,
                );
            }
            row(
                "cluster: wall time, s".into(),
                Some(c.parent.wall_s),
                pi.map(|f| f.wall_s),
            );
            row(
                "cluster: other processes' load meanwhile, cores".into(),
                Some(c.parent.other_cores),
                pi.map(|f| f.other_cores),
            );
            for q in &c.queries {
                row(
                    format!("cluster query p50 ms: {}", q.name),
                    Some(q.p50_ms),
                    find(pq, q.name).map(|p| p.p50_ms),
                );
            }
        }
        let hi = |s| pick(&self.histograms, s, |f| f.server);
        let (th, ph) = (hi(Side::Telltale), hi(Side::Prometheus));
        for (name, f) in crate::histograms::rows() {
            row(name.to_string(), th.map(f), ph.map(f));
        }
        if let Some(h) = &self.history {
            for (figure, v) in crate::history::rows(h) {
                row(figure, Some(v), None);
            }
        }
        self.rows = rows;
    }
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "–".to_string(),
        Some(v) if v.abs() >= 10_000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn ratio(v: Option<f64>) -> String {
    v.filter(|r| r.is_finite())
        .map_or("–".to_string(), |r| format!("{r:.2}×"))
}

/// The table of one repetition, then its details and warnings.
pub fn print_repetition(rep: &Repetition) {
    println!();
    println!(
        "== repetition {} ({} first) ==",
        rep.index,
        rep.first.map_or("-", Side::name)
    );
    println!("| figure | Telltale | Prometheus 2.42 | Telltale / Prometheus |");
    println!("|---|---|---|---|");
    for r in &rep.rows {
        println!(
            "| {} | {} | {} | {} |",
            r.figure,
            fmt(r.telltale),
            fmt(r.prometheus),
            ratio(r.ratio())
        );
    }
    for c in rep.comparisons.iter().chain(&rep.cluster_comparisons) {
        println!(
            "answers {:<22} series {} / {}, points {} / {}, largest relative difference {:.1e}",
            c.name, c.series.0, c.series.1, c.points.0, c.points.1, c.max_relative_difference
        );
    }
    for d in &rep.disk {
        let top: Vec<String> = d
            .top_level
            .iter()
            .map(|(n, s)| format!("{n} {:.1} MiB", s.allocated as f64 / MIB))
            .collect();
        println!(
            "disk {}: {:.1} MiB during (max), {:.1} MiB after the pause, {:.1} MiB after the stop ({:.1} s to stop): {}",
            d.server.name(),
            d.during_max.allocated as f64 / MIB,
            d.after_settle.allocated as f64 / MIB,
            d.after_stop.allocated as f64 / MIB,
            d.stop_s,
            top.join(", ")
        );
    }
    if let Some(c) = &rep.cluster {
        for r in &c.replicas {
            println!(
                "cluster shard {} replica {} (pid {}): {:.1} CPU-s, peak RSS {:.0} MiB",
                r.shard,
                r.replica,
                r.pid,
                r.cpu_s,
                r.vm_hwm_bytes as f64 / MIB
            );
        }
    }
    if let Some(h) = &rep.history {
        crate::history::print(h);
    }
    if !rep.histograms.is_empty() {
        crate::histograms::print(&rep.histograms, &rep.histogram_comparisons);
    }
    for n in &rep.notes {
        println!("NOTE: {n}");
    }
    for w in &rep.warnings {
        println!("WARNING: {w}");
    }
    for e in &rep.errors {
        println!("ERROR: {e}");
    }
}

/// Rows of every repetition by figure: Telltale and Prometheus means and each
/// repetition's ratio.
pub fn summary(reps: &[Repetition]) -> Vec<serde_json::Value> {
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for rep in reps {
        for r in &rep.rows {
            if !by.contains_key(&r.figure) {
                order.push(r.figure.clone());
            }
            by.entry(r.figure.clone()).or_default().push(r);
        }
    }
    let mean = |v: Vec<f64>| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    order
        .into_iter()
        .map(|figure| {
            let rows = &by[&figure];
            let t = mean(rows.iter().filter_map(|r| r.telltale).collect());
            let p = mean(rows.iter().filter_map(|r| r.prometheus).collect());
            let ratios: Vec<Option<f64>> = rows.iter().map(|r| r.ratio()).collect();
            serde_json::json!({
                "figure": figure, "telltale_mean": t, "prometheus_mean": p,
                "ratios": ratios, "ratio_of_means": t.zip(p).map(|(t, p)| t / p),
            })
        })
        .collect()
}

/// The summary as a table.
pub fn print_summary(summary: &[serde_json::Value], repetitions: usize) {
    println!();
    println!("== all {repetitions} repetitions (means; ratio per repetition) ==");
    println!("| figure | Telltale | Prometheus 2.42 | Telltale / Prometheus | per repetition |");
    println!("|---|---|---|---|---|");
    for s in summary {
        let per: Vec<String> = s["ratios"]
            .as_array()
            .map(|a| a.iter().map(|r| ratio(r.as_f64())).collect())
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {} | {} |",
            s["figure"].as_str().unwrap_or_default(),
            fmt(s["telltale_mean"].as_f64()),
            fmt(s["prometheus_mean"].as_f64()),
            ratio(s["ratio_of_means"].as_f64()),
            per.join(" ")
        );
    }
}
