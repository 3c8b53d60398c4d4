//! The web configuration file's YAML (exporter-toolkit's `web.Config`) and the checks
//! that need no other file.
//!
//! Parsing follows exporter-toolkit: unknown fields are refused (`UnmarshalStrict`),
//! a `null` section or setting takes its default, scalars are accepted where Go reads a
//! string. Settings that Go accepts but rustls cannot honour (TLS 1.0/1.1, CBC and
//! RSA-key-exchange cipher suites, the P-521 curve) are refused here with the field's
//! name, rather than silently served differently.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

mod de;
use de::{Raw, field_of};

/// One web configuration file, with exporter-toolkit's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    pub tls_server_config: TlsServerConfig,
    pub http_server_config: HttpServerConfig,
    /// User name → bcrypt hash of the password.
    pub basic_auth_users: BTreeMap<String, String>,
}

/// `tls_server_config`. Paths are as written; [`crate::WebConfigFile`] resolves relative
/// ones against the configuration file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerConfig {
    pub cert_file: String,
    pub key_file: String,
    pub client_auth_type: ClientAuthType,
    /// Whether `client_auth_type` was written at all (it turns TLS on, as in Go).
    pub client_auth_type_set: bool,
    pub client_ca_file: String,
    pub client_allowed_sans: Option<Vec<String>>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    pub cipher_suites: Vec<CipherSuite>,
    pub curve_preferences: Vec<Curve>,
    pub prefer_server_cipher_suites: bool,
}

/// `http_server_config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpServerConfig {
    /// Offer HTTP/2 over TLS (ALPN `h2`); default true.
    pub http2: bool,
    /// Headers added to every response (only [`ALLOWED_HEADERS`]).
    pub headers: BTreeMap<String, String>,
}

/// The response headers a web configuration file may set, with the values allowed where
/// exporter-toolkit restricts them (empty: any value).
pub const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Content-Security-Policy", &[]),
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
];

/// Go's `tls.ClientAuthType`, by its Go name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    /// Also spelled `RequireClientCert`, kept by exporter-toolkit for compatibility.
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuthType {
    const NAMES: &[(&str, ClientAuthType)] = &[
        ("NoClientCert", ClientAuthType::NoClientCert),
        ("RequestClientCert", ClientAuthType::RequestClientCert),
        ("RequireAnyClientCert", ClientAuthType::RequireAnyClientCert),
        ("RequireClientCert", ClientAuthType::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuthType::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuthType::RequireAndVerifyClientCert,
        ),
    ];

    /// Whether a client must present a certificate.
    pub fn requires_cert(self) -> bool {
        matches!(
            self,
            ClientAuthType::RequireAnyClientCert | ClientAuthType::RequireAndVerifyClientCert
        )
    }

    /// Whether a presented certificate is checked against the client CAs.
    pub fn verifies_cert(self) -> bool {
        matches!(
            self,
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert
        )
    }
}

/// `min_version` / `max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    const NAMES: &[(&str, TlsVersion)] = &[
        ("TLS10", TlsVersion::Tls10),
        ("TLS11", TlsVersion::Tls11),
        ("TLS12", TlsVersion::Tls12),
        ("TLS13", TlsVersion::Tls13),
    ];

    pub fn name(self) -> &'static str {
        name_of(Self::NAMES, self)
    }
}

/// A cipher suite by its Go name (`tls.CipherSuites()` of the Go that Prometheus ships
/// with). Only the ECDHE AEAD suites exist in rustls; the others are refused when checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite(pub &'static str);

/// The names Go's `tls.CipherSuites()` lists; `true` where rustls implements the suite.
pub const GO_CIPHER_SUITES: &[(&str, bool)] = &[
    ("TLS_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", false),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", false),
    ("TLS_AES_128_GCM_SHA256", true),
    ("TLS_AES_256_GCM_SHA384", true),
    ("TLS_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", true),
];

/// `curve_preferences`, by Go name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    CurveP256,
    CurveP384,
    CurveP521,
    X25519,
}

impl Curve {
    const NAMES: &[(&str, Curve)] = &[
        ("CurveP256", Curve::CurveP256),
        ("CurveP384", Curve::CurveP384),
        ("CurveP521", Curve::CurveP521),
        ("X25519", Curve::X25519),
    ];

    pub fn name(self) -> &'static str {
        name_of(Self::NAMES, self)
    }
}

fn name_of<T: PartialEq + Copy>(names: &[(&'static str, T)], v: T) -> &'static str {
    names.iter().find(|(_, x)| *x == v).map_or("?", |(n, _)| n)
}

impl WebConfig {
    /// Parses a file's text. `file` only names the file in errors.
    pub fn parse(file: &Path, text: &[u8]) -> Result<WebConfig> {
        let value: serde_yaml::Value = serde_yaml::from_slice(text).map_err(|e| Error::Syntax {
            file: file.to_path_buf(),
            message: e.to_string(),
        })?;
        if value.is_null() {
            return Ok(Raw::default().resolve());
        }
        let raw: Raw = serde_path_to_error::deserialize(value).map_err(|e| {
            let (field, message) = field_of(&e.path().to_string(), &e.inner().to_string());
            Error::field(file, field, message)
        })?;
        Ok(raw.resolve())
    }

    /// The checks that need no file: headers, password hashes, and the TLS settings
    /// (required fields, combinations exporter-toolkit refuses, what rustls cannot do).
    pub fn check(&self, file: &Path) -> Result<()> {
        for (name, value) in &self.http_server_config.headers {
            check_header(name, value)
                .map_err(|m| Error::field(file, format!("http_server_config.headers.{name}"), m))?;
        }
        for (user, hash) in &self.basic_auth_users {
            crate::auth::check_hash(hash)
                .map_err(|m| Error::field(file, format!("basic_auth_users.{user}"), m))?;
        }
        if self.tls_server_config.enabled() {
            self.tls_server_config.check(file)?;
        }
        Ok(())
    }
}

impl TlsServerConfig {
    /// Whether TLS is on: a certificate, key, client CA or client auth type is set
    /// (exporter-toolkit's `IsEnabled`); versions and suites alone do not turn it on.
    pub fn enabled(&self) -> bool {
        !self.cert_file.is_empty()
            || !self.key_file.is_empty()
            || !self.client_ca_file.is_empty()
            || self.client_auth_type_set
    }

    fn check(&self, file: &Path) -> Result<()> {
        let err = |field: &str, message: String| {
            Error::field(file, format!("tls_server_config.{field}"), message)
        };
        if self.cert_file.is_empty() {
            return Err(err("cert_file", "missing".into()));
        }
        if self.key_file.is_empty() {
            return Err(err("key_file", "missing".into()));
        }
        let auth = self.client_auth_type;
        if !self.client_ca_file.is_empty() && auth == ClientAuthType::NoClientCert {
            return Err(err(
                "client_ca_file",
                "client CAs have been configured without a client_auth_type".into(),
            ));
        }
        if self.client_allowed_sans.is_some() && !auth.requires_cert() {
            return Err(err(
                "client_allowed_sans",
                "requires client_auth_type to be one of RequireAnyClientCert or \
                 RequireAndVerifyClientCert"
                    .into(),
            ));
        }
        for (field, v) in [
            ("min_version", self.min_version),
            ("max_version", self.max_version),
        ] {
            if v < TlsVersion::Tls12 {
                return Err(err(
                    field,
                    format!(
                        "{} is not supported: rustls speaks TLS12 and TLS13 only",
                        v.name()
                    ),
                ));
            }
        }
        if self.min_version > self.max_version {
            return Err(err(
                "min_version",
                format!(
                    "{} is above max_version {}",
                    self.min_version.name(),
                    self.max_version.name()
                ),
            ));
        }
        for (i, suite) in self.cipher_suites.iter().enumerate() {
            if !GO_CIPHER_SUITES.contains(&(suite.0, true)) {
                let supported: Vec<&str> = GO_CIPHER_SUITES
                    .iter()
                    .filter(|(_, ok)| *ok)
                    .map(|(n, _)| *n)
                    .collect();
                return Err(err(
                    &format!("cipher_suites[{i}]"),
                    format!(
                        "{} is not supported by rustls (supported: {})",
                        suite.0,
                        supported.join(", ")
                    ),
                ));
            }
        }
        for (i, curve) in self.curve_preferences.iter().enumerate() {
            if *curve == Curve::CurveP521 {
                return Err(err(
                    &format!("curve_preferences[{i}]"),
                    format!(
                        "{} is not supported by rustls (supported: X25519, CurveP256, CurveP384)",
                        curve.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `name: value` may be configured, as exporter-toolkit's `validateHeaderConfig`;
/// the value must also be a valid HTTP header value.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "this header can not be configured (allowed: {})",
            names.join(", ")
        ));
    };
    if !allowed.is_empty() && !allowed.contains(&value) {
        return Err(format!(
            "invalid value {value:?}, expected one of {allowed:?}"
        ));
    }
    axum::http::HeaderValue::from_str(value)
        .map_err(|_| format!("{value:?} is not a valid header value"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig> {
        let c = WebConfig::parse(Path::new("web.yml"), text.as_bytes())?;
        c.check(Path::new("web.yml"))?;
        Ok(c)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        for text in [
            "",
            "---\n",
            "{}",
            "tls_server_config:\nhttp_server_config:\n",
        ] {
            let c = parse(text).unwrap();
            assert!(!c.tls_server_config.enabled());
            assert!(c.http_server_config.http2);
            assert!(c.tls_server_config.prefer_server_cipher_suites);
            assert_eq!(c.tls_server_config.min_version, TlsVersion::Tls12);
            assert_eq!(c.tls_server_config.max_version, TlsVersion::Tls13);
        }
    }

    #[test]
    fn errors_name_the_file_and_field() {
        assert_eq!(
            error("tls_server_config: {client_auth_type: Foo}"),
            "web.yml: tls_server_config.client_auth_type: unknown client auth type \"Foo\", \
             expected one of NoClientCert, RequestClientCert, RequireAnyClientCert, \
             RequireClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        );
        assert!(
            error("tls_server_config: {cert_file: c, kye_file: k}")
                .starts_with("web.yml: tls_server_config.kye_file: unknown field, expected")
        );
        assert!(error("rate_limit: {burst: 1}").starts_with("web.yml: rate_limit: unknown field"));
        assert!(
            error("http_server_config: {http2: maybe}")
                .starts_with("web.yml: http_server_config.http2: invalid type")
        );
        assert!(error("a: [").starts_with("web.yml: not valid YAML"));
        assert_eq!(
            error("tls_server_config: {min_version: TLS14, cert_file: c, key_file: k}"),
            "web.yml: tls_server_config.min_version: unknown TLS version \"TLS14\", expected \
             one of TLS10, TLS11, TLS12, TLS13"
        );
    }

    #[test]
    fn tls_needs_cert_and_key() {
        assert_eq!(
            error("tls_server_config: {client_auth_type: RequireAnyClientCert}"),
            "web.yml: tls_server_config.cert_file: missing"
        );
        assert_eq!(
            error("tls_server_config: {cert_file: c.pem}"),
            "web.yml: tls_server_config.key_file: missing"
        );
        // Versions alone do not turn TLS on (exporter-toolkit's IsEnabled).
        assert!(
            !parse("tls_server_config: {min_version: TLS13}")
                .unwrap()
                .tls_server_config
                .enabled()
        );
    }

    #[test]
    fn client_auth_combinations_as_exporter_toolkit() {
        let base = "tls_server_config: {cert_file: c, key_file: k";
        assert!(
            error(&format!("{base}, client_ca_file: ca}}")).contains(
                "tls_server_config.client_ca_file: client CAs have been configured without"
            )
        );
        for auth in [
            "NoClientCert",
            "RequestClientCert",
            "VerifyClientCertIfGiven",
        ] {
            assert!(
                error(&format!(
                    "{base}, client_auth_type: {auth}, client_allowed_sans: [a]}}"
                ))
                .contains("tls_server_config.client_allowed_sans: requires")
            );
        }
        for auth in [
            "RequireAnyClientCert",
            "RequireClientCert",
            "RequireAndVerifyClientCert",
        ] {
            let c = parse(&format!(
                "{base}, client_auth_type: {auth}, client_allowed_sans: [a]}}"
            ))
            .unwrap();
            assert!(c.tls_server_config.client_auth_type.requires_cert());
        }
    }

    #[test]
    fn what_rustls_cannot_do_is_refused_by_field() {
        let base = "tls_server_config: {cert_file: c, key_file: k";
        assert_eq!(
            error(&format!("{base}, min_version: TLS10}}")),
            "web.yml: tls_server_config.min_version: TLS10 is not supported: rustls speaks \
             TLS12 and TLS13 only"
        );
        assert!(
            error(&format!("{base}, max_version: TLS11}}"))
                .starts_with("web.yml: tls_server_config.max_version: TLS11 is not supported")
        );
        assert!(
            error(&format!("{base}, min_version: TLS13, max_version: TLS12}}"))
                .contains("min_version: TLS13 is above max_version TLS12")
        );
        assert!(
            error(&format!(
                "{base}, cipher_suites: [TLS_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_128_CBC_SHA]}}"
            ))
            .starts_with(
                "web.yml: tls_server_config.cipher_suites[1]: TLS_RSA_WITH_AES_128_CBC_SHA is not \
             supported by rustls"
            )
        );
        assert!(
            error(&format!("{base}, cipher_suites: [NOPE]}}")).starts_with(
                "web.yml: tls_server_config.cipher_suites[0]: unknown cipher \"NOPE\""
            )
        );
        assert!(
            error(&format!("{base}, curve_preferences: [X25519, CurveP521]}}"))
                .starts_with("web.yml: tls_server_config.curve_preferences[1]: CurveP521 is not")
        );
        let c = parse(&format!(
            "{base}, curve_preferences: [CurveP384, X25519], cipher_suites: \
             [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256], prefer_server_cipher_suites: false, \
             min_version: TLS13}}"
        ))
        .unwrap();
        let t = c.tls_server_config;
        assert_eq!(t.curve_preferences, [Curve::CurveP384, Curve::X25519]);
        assert!(!t.prefer_server_cipher_suites);
        assert_eq!(t.min_version, TlsVersion::Tls13);
    }

    #[test]
    fn headers_as_exporter_toolkit() {
        let c = parse(
            "http_server_config: {headers: {X-Frame-Options: deny, Strict-Transport-Security: \
             max-age=31536000, X-Content-Type-Options: nosniff}}",
        )
        .unwrap();
        assert_eq!(c.http_server_config.headers.len(), 3);
        assert!(
            error("http_server_config: {headers: {Foo: bar}}")
                .starts_with("web.yml: http_server_config.headers.Foo: this header can not be")
        );
        assert!(
            error("http_server_config: {headers: {X-Frame-Options: allow}}").starts_with(
                "web.yml: http_server_config.headers.X-Frame-Options: invalid value \"allow\""
            )
        );
        assert!(
            error("http_server_config: {headers: {X-Content-Type-Options: sniff}}")
                .contains("X-Content-Type-Options: invalid value")
        );
    }

    #[test]
    fn users_need_bcrypt_hashes() {
        assert!(
            error("basic_auth_users: {alice: secret}")
                .starts_with("web.yml: basic_auth_users.alice: ")
        );
        assert!(
            error("basic_auth_users: {alice: }").starts_with("web.yml: basic_auth_users.alice: ")
        );
        let hash = bcrypt::hash("pw", 4).unwrap();
        let c = parse(&format!("basic_auth_users: {{alice: {hash}}}")).unwrap();
        assert_eq!(c.basic_auth_users.len(), 1);
    }

    #[test]
    fn scalars_are_strings_as_in_go() {
        let c = parse("tls_server_config: {cert_file: 123, key_file: true}").unwrap();
        assert_eq!(c.tls_server_config.cert_file, "123");
        assert_eq!(c.tls_server_config.key_file, "true");
    }
}
