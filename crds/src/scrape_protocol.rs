//! [`ScrapeProtocol`]: the exposition formats a scrape asks for, Prometheus's
//! `scrape_protocols` values, with the media types of the `Accept` header
//! (Prometheus's `config.ScrapeProtocolsHeaders`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One exposition format a scrape accepts.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ScrapeProtocol {
    /// The protobuf format (the one that carries native histograms).
    #[serde(rename = "PrometheusProto")]
    PrometheusProto,
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
}

impl ScrapeProtocol {
    /// Every protocol.
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// Prometheus's list when native histograms are ingested
    /// (`DefaultProtoFirstScrapeProtocols`): protobuf first. Telltale's default, since it
    /// stores native histograms.
    pub const DEFAULT: [ScrapeProtocol; 5] = ScrapeProtocol::ALL;

    /// The media type of the `Accept` header.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
        }
    }

    /// The name in configuration (`PrometheusProto`, `OpenMetricsText1.0.0`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_and_write_as_prometheus_spells_them() {
        for p in ScrapeProtocol::ALL {
            let yaml = serde_yaml::to_string(&p).unwrap();
            assert_eq!(yaml.trim(), p.name());
            let back: ScrapeProtocol = serde_yaml::from_str(p.name()).unwrap();
            assert_eq!(back, p);
        }
        assert!(serde_yaml::from_str::<ScrapeProtocol>("PrometheusText0.0.5").is_err());
    }
}
