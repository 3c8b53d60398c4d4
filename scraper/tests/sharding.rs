//! Three scraper replicas in one process share 300 targets by rendezvous hashing; when
//! one is killed its targets are scraped by the others within two intervals.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Exporter, MemoryWriter, scrape_targets};
use telltale_scraper::{Membership, ScrapeManager};
use tokio::sync::watch;

const TARGETS: usize = 300;
const INTERVAL: Duration = Duration::from_secs(1);

fn members(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_300_targets_and_take_over_a_killed_one() {
    let mut exporters = Vec::with_capacity(TARGETS);
    for i in 0..TARGETS {
        exporters.push(Exporter::start(&format!("target_value {i}\n")).await);
    }
    let addrs: Vec<String> = exporters
        .iter()
        .map(|e| format!("\"{}\"", e.addr))
        .collect();
    let yaml = format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: fleet}}\n\
spec:\n  interval: 1s\n  scrapeTimeout: 500ms\n  static: [{{targets: [{}]}}]\n",
        addrs.join(", ")
    );
    let resources = scrape_targets(&yaml);

    let names = [
        "telltale-scraper-0",
        "telltale-scraper-1",
        "telltale-scraper-2",
    ];
    let (tx, rx) = watch::channel(members(&names));
    let writer = MemoryWriter::new();
    let managers: Vec<Arc<ScrapeManager>> = names
        .iter()
        .map(|name| {
            ScrapeManager::with_membership(
                writer.clone(),
                &prometheus::Registry::new(),
                Membership {
                    self_name: name.to_string(),
                    members: rx.clone(),
                },
            )
        })
        .collect();
    for m in &managers {
        m.apply(&resources);
    }

    // Every target is owned by exactly one replica. Ports differ per run, so the shares
    // are only checked loosely here (the ±15 % bound is checked on fixed identities in
    // the membership module's tests).
    let owned: Vec<HashSet<String>> = managers
        .iter()
        .map(|m| {
            m.targets()
                .iter()
                .map(|t| t.target.address.clone())
                .collect()
        })
        .collect();
    let total: usize = owned.iter().map(HashSet::len).sum();
    assert_eq!(total, TARGETS);
    let union: HashSet<&String> = owned.iter().flatten().collect();
    assert_eq!(union.len(), TARGETS, "no target owned twice");
    for (name, set) in names.iter().zip(&owned) {
        assert!((50..=150).contains(&set.len()), "{name} owns {}", set.len());
    }
    for (name, m) in names.iter().zip(&managers) {
        assert!(
            m.targets()
                .iter()
                .all(|t| t.scraper.as_deref() == Some(*name))
        );
    }

    // Every target gets scraped within an interval or so.
    wait_until("every target scraped", Duration::from_secs(5), || {
        exporters.iter().all(|e| !e.seen().is_empty())
    })
    .await;

    // Kill replica 2 (its loops stop) and tell the others it is gone.
    let killed: HashSet<String> = owned[2].clone();
    managers[2].shutdown();
    managers[2].stopped().await;
    let killed_at = Instant::now();
    tx.send(members(&names[..2])).unwrap();
    let orphans: Vec<&Exporter> = exporters
        .iter()
        .filter(|e| killed.contains(&e.addr.to_string()))
        .collect();
    wait_until(
        "the killed replica's targets scraped again",
        2 * INTERVAL,
        || {
            orphans
                .iter()
                .all(|e| e.seen().iter().any(|r| r.at > killed_at))
        },
    )
    .await;

    // The survivors own everything, still exactly once, and kept their own targets.
    let after: Vec<HashSet<String>> = managers[..2]
        .iter()
        .map(|m| {
            m.targets()
                .iter()
                .map(|t| t.target.address.clone())
                .collect()
        })
        .collect();
    assert_eq!(after[0].len() + after[1].len(), TARGETS);
    assert!(after[0].is_disjoint(&after[1]));
    assert!(owned[0].is_subset(&after[0]) && owned[1].is_subset(&after[1]));

    // A replacement replica joins: exactly its share moves back to it, handed off without
    // staleness markers (the series go on, written by the new owner).
    let written_before = writer.batches().len();
    let rejoined = ScrapeManager::with_membership(
        writer.clone(),
        &prometheus::Registry::new(),
        Membership {
            self_name: names[2].to_string(),
            members: rx.clone(),
        },
    );
    rejoined.apply(&resources);
    tx.send(members(&names)).unwrap();
    let joined_at = Instant::now();
    wait_until("the rejoined replica owns its share", INTERVAL, || {
        rejoined.targets().len() == killed.len()
    })
    .await;
    let back: HashSet<String> = rejoined
        .targets()
        .iter()
        .map(|t| t.target.address.clone())
        .collect();
    assert_eq!(back, killed, "the same identities hash to the same replica");
    wait_until("the survivors hand the targets back", 2 * INTERVAL, || {
        managers[..2]
            .iter()
            .map(|m| m.targets().len())
            .sum::<usize>()
            == TARGETS - back.len()
    })
    .await;
    let returned: Vec<&Exporter> = exporters
        .iter()
        .filter(|e| back.contains(&e.addr.to_string()))
        .collect();
    wait_until(
        "the rejoined replica scrapes its targets",
        2 * INTERVAL,
        || {
            returned
                .iter()
                .all(|e| e.seen().iter().any(|r| r.at > joined_at))
        },
    )
    .await;
    let stale_after_join = writer.batches()[written_before..]
        .iter()
        .flatten()
        .filter(|s| {
            s.samples
                .iter()
                .any(|p| telltale_model::is_stale_nan(p.value))
        })
        .count();
    assert_eq!(stale_after_join, 0, "a handoff writes no staleness markers");

    for m in managers[..2].iter().chain([&rejoined]) {
        m.shutdown();
        m.stopped().await;
    }
}

async fn wait_until(what: &str, within: Duration, pred: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        if pred() {
            return;
        }
        assert!(
            start.elapsed() < within,
            "not done within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
