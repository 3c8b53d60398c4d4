//! [`Error`]: everything that can go wrong while scraping or receiving pushed samples.

use axum::http::StatusCode;

/// What went wrong. Each variant maps to an HTTP status ([`Error::status_code`]) and a
/// short metric label ([`Error::metric_label`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The text exposition could not be parsed.
    #[error("text exposition line {line}: {message}")]
    Parse { line: usize, message: String },

    /// The OpenMetrics exposition could not be parsed.
    #[error("openmetrics exposition line {line}: {message}")]
    OpenMetrics { line: usize, message: String },

    /// The protobuf exposition could not be decoded (or holds an invalid series).
    #[error("protobuf exposition at byte offset {offset}: {message}")]
    ProtobufExposition { offset: usize, message: String },

    /// The scrape's Content-Type names no format the scraper reads, and the target has
    /// no `fallback_scrape_protocol`.
    #[error("{message}")]
    ContentType { message: String },

    /// A relabeling step is not valid (its regular expression does not compile).
    #[error("{field}: {message}")]
    Relabel { field: String, message: String },

    /// A file of static targets (`fileSd`) cannot be read or parsed.
    #[error("file_sd {path}: {message}")]
    FileSd { path: String, message: String },

    /// An `httpSd` endpoint could not be fetched or its answer not used.
    #[error("http_sd {url}: {message}")]
    HttpSd { url: String, message: String },

    /// The scrape request could not be sent or its body not read.
    #[error("Get {url:?}: {message}")]
    Http { url: String, message: String },

    /// The target's HTTP client cannot be made: a Secret or file it names cannot be read
    /// or used, or is not allowed here. The message names the field.
    #[error("{message}")]
    ScrapeClient { message: String },

    /// The target answered with a status other than 2xx.
    #[error("server returned HTTP status {status}")]
    HttpStatus { url: String, status: String },

    /// The target's body (decompressed) is larger than its `bodySizeLimit` (Prometheus's
    /// wording).
    #[error("body size limit exceeded")]
    BodySizeLimit { limit: u64 },

    /// The target's body is not UTF-8 text.
    #[error("Get {url:?}: response body is not valid UTF-8")]
    NotUtf8 { url: String },

    /// A pushed body is not valid snappy (block format).
    #[error("cannot decode snappy body: {message}")]
    Snappy { message: String },

    /// A pushed body is not a valid `prometheus.WriteRequest`.
    #[error("cannot decode protobuf WriteRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),

    /// A pushed series is not acceptable (bad label name, missing metric name...).
    #[error("invalid series {series}: {message}")]
    InvalidSeries { series: String, message: String },

    /// A pushed body is larger than allowed.
    #[error("{what} of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },

    /// The request's content type is neither remote_write v1 nor 2.0 (or not snappy).
    #[error("unsupported content type or encoding {content_type:?}")]
    UnsupportedMediaType { content_type: String },

    /// A pushed protobuf body is malformed from this byte offset on.
    #[error("cannot decode protobuf {what}: byte offset {offset}: {message}")]
    ProtobufAt {
        what: &'static str,
        offset: usize,
        message: String,
    },

    /// A pushed body cannot be decompressed.
    #[error("cannot decode {encoding} body: {message}")]
    Decompress {
        encoding: &'static str,
        message: String,
    },

    /// No line of an InfluxDB line-protocol body could be parsed.
    #[error("unable to parse line {line}: {message}")]
    LineProtocol { line: usize, message: String },

    /// A request parameter is not valid (say, an unknown `precision`).
    #[error("invalid parameter {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },

    /// A push request without the right bearer token.
    #[error("unauthorized: {message}")]
    Unauthorized { message: String },

    /// The on-disk queue's files cannot be read or written.
    #[error("disk queue {path}: {source}")]
    QueueIo {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A queue file holds something that is not a queued batch.
    #[error("disk queue {path}: {message}")]
    QueueCorrupt { path: String, message: String },

    /// The Kubernetes API could not be reached or answered with an error.
    #[error("kubernetes: {message}")]
    Kubernetes { message: String },

    /// A `remote_write` section asks for something the forwarder cannot do.
    #[error("remote_write {remote}: {field}: {message}")]
    RemoteWriteConfig {
        remote: String,
        field: String,
        message: String,
    },

    /// A bug or a crashed task inside the scraper.
    #[error("internal error: {message}")]
    Internal { message: String },

    /// The storage did not accept a write.
    #[error("storage write failed: {0}")]
    Storage(#[from] telltale_storage_api::Error),
}

impl Error {
    /// The HTTP status this error answers a request with.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::Parse { .. }
            | Error::OpenMetrics { .. }
            | Error::ProtobufExposition { .. }
            | Error::Relabel { .. }
            | Error::RemoteWriteConfig { .. }
            | Error::FileSd { .. }
            | Error::HttpSd { .. }
            | Error::Snappy { .. }
            | Error::Protobuf(_)
            | Error::InvalidSeries { .. }
            | Error::ProtobufAt { .. }
            | Error::Decompress { .. }
            | Error::LineProtocol { .. }
            | Error::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::QueueIo { .. } | Error::QueueCorrupt { .. } | Error::Kubernetes { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Storage(e) if e.is_invalid_request() => StatusCode::BAD_REQUEST,
            Error::Storage(e) => match e.metric_label() {
                "unavailable" | "deadline_exceeded" | "resource_exhausted" => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Error::Http { .. }
            | Error::HttpStatus { .. }
            | Error::NotUtf8 { .. }
            | Error::ContentType { .. }
            | Error::BodySizeLimit { .. }
            | Error::ScrapeClient { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Parse { .. } => "parse",
            Error::OpenMetrics { .. } => "parse_openmetrics",
            Error::ProtobufExposition { .. } => "parse_protobuf",
            Error::ContentType { .. } => "content_type",
            Error::Relabel { .. } => "relabel_config",
            Error::RemoteWriteConfig { .. } => "remote_write_config",
            Error::FileSd { .. } => "file_sd",
            Error::HttpSd { .. } => "http_sd",
            Error::Http { .. } => "http",
            Error::HttpStatus { .. } => "http_status",
            Error::ScrapeClient { .. } => "scrape_client",
            Error::NotUtf8 { .. } => "not_utf8",
            Error::BodySizeLimit { .. } => "body_size_limit",
            Error::Snappy { .. } => "snappy",
            Error::Protobuf(_) => "protobuf",
            Error::InvalidSeries { .. } => "invalid_series",
            Error::TooLarge { .. } => "too_large",
            Error::UnsupportedMediaType { .. } => "unsupported_media_type",
            Error::ProtobufAt { .. } => "protobuf",
            Error::Decompress { .. } => "decompress",
            Error::LineProtocol { .. } => "parse_line_protocol",
            Error::InvalidParameter { .. } => "invalid_parameter",
            Error::Unauthorized { .. } => "unauthorized",
            Error::QueueIo { .. } => "queue_io",
            Error::QueueCorrupt { .. } => "queue_corrupt",
            Error::Kubernetes { .. } => "kubernetes",
            Error::Internal { .. } => "internal",
            Error::Storage(_) => "storage",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn storage(code: tonic::Code) -> Error {
        Error::Storage(telltale_storage_api::Error::Status {
            code,
            message: "x".into(),
        })
    }

    #[test]
    fn storage_errors_map_to_retryable_or_not() {
        assert_eq!(
            storage(tonic::Code::Unavailable).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            storage(tonic::Code::InvalidArgument).status_code(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            storage(tonic::Code::Internal).status_code(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn config_and_format_errors_are_bad_requests() {
        let om = Error::OpenMetrics {
            line: 2,
            message: "x".into(),
        };
        assert_eq!(om.to_string(), "openmetrics exposition line 2: x");
        assert_eq!(om.metric_label(), "parse_openmetrics");
        let relabel = Error::Relabel {
            field: "spec.relabelings[0].regex".into(),
            message: "bad".into(),
        };
        assert_eq!(relabel.to_string(), "spec.relabelings[0].regex: bad");
        let file = Error::FileSd {
            path: "t.json".into(),
            message: "eof".into(),
        };
        assert_eq!(file.to_string(), "file_sd t.json: eof");
        for e in [om, relabel, file] {
            assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn parse_errors_name_the_line() {
        let parse = Error::Parse {
            line: 3,
            message: "x".into(),
        };
        assert_eq!(parse.status_code(), StatusCode::BAD_REQUEST);
        assert_eq!(parse.to_string(), "text exposition line 3: x");
    }
}
