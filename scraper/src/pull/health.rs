//! [`ScrapeHealth`]: what the last scrape of a target did, for `/api/v1/targets`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::pull::text::Metadata;

/// Whether the last scrape of a target worked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    Up,
    Down,
}

impl Health {
    /// `"up"`, `"down"` or `"unknown"`, as Prometheus's API says it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The state of a target as of its last scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScrapeHealth {
    pub health: Health,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    pub last_duration: Duration,
    /// Why the last scrape (or the write of its samples) failed.
    pub last_error: Option<String>,
    /// What the `# HELP`, `# TYPE` and `# UNIT` lines of the last parsed scrape said
    /// (kept through failed scrapes).
    pub metadata: Arc<[Metadata]>,
}
