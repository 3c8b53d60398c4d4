//! The PEM material of one identity (the CA, a certificate chain and its key), from
//! memory or from files re-read when they change, and the rustls pieces made from it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::RootCertStore;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How often files are looked at again (the kubelet updates a Secret volume within a
/// minute; a rotation is picked up by the next connection after this).
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// Why TLS material cannot be used; the message names the file or the part.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct TlsError {
    pub what: String,
    pub message: String,
}

impl TlsError {
    fn new(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        TlsError {
            what: what.into(),
            message: message.to_string(),
        }
    }
}

/// Where an identity's three PEM files are (`--grpc.tls-ca-file`, `-cert-file`, `-key-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsPaths {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// PEM bytes of a CA (one or more certificates), a certificate chain and its private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub ca_pem: Vec<u8>,
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// What rustls needs of an identity, checked: the CAs, the certified key, and the CAs'
/// subjects (to pick the identity a server asks for).
#[derive(Debug)]
pub struct Parsed {
    pub roots: RootCertStore,
    pub ca_subjects: Vec<Vec<u8>>,
    pub key: Arc<CertifiedKey>,
}

impl Identity {
    /// Reads the three files; errors name the file.
    pub fn load(paths: &TlsPaths) -> Result<Identity, TlsError> {
        let read =
            |p: &Path| std::fs::read(p).map_err(|e| TlsError::new(p.display().to_string(), e));
        Ok(Identity {
            ca_pem: read(&paths.ca)?,
            cert_pem: read(&paths.cert)?,
            key_pem: read(&paths.key)?,
        })
    }

    /// Parses and checks the material: at least one CA and one certificate, a key that
    /// matches the certificate.
    pub fn parse(&self) -> Result<Parsed, TlsError> {
        let certs = |what: &str, pem: &[u8]| -> Result<Vec<CertificateDer<'static>>, TlsError> {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| TlsError::new(what, e))?;
            if certs.is_empty() {
                return Err(TlsError::new(what, "no CERTIFICATE in the PEM data"));
            }
            Ok(certs)
        };
        let cas = certs("the CA", &self.ca_pem)?;
        let mut roots = RootCertStore::empty();
        let mut ca_subjects = Vec::new();
        for ca in cas {
            roots
                .add(ca.clone())
                .map_err(|e| TlsError::new("the CA", e))?;
            if let Ok((_, parsed)) = x509_parser::parse_x509_certificate(&ca) {
                ca_subjects.push(parsed.subject().as_raw().to_vec());
            }
        }
        let chain = certs("the certificate", &self.cert_pem)?;
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| TlsError::new("the key", format!("no private key: {e}")))?;
        let provider = rustls::crypto::ring::default_provider();
        let key = CertifiedKey::from_der(chain, key, &provider)
            .map_err(|e| TlsError::new("the key", e))?;
        Ok(Parsed {
            roots,
            ca_subjects,
            key: Arc::new(key),
        })
    }
}

/// Where an identity comes from.
#[derive(Debug)]
pub enum Source {
    Fixed(Identity),
    Files(TlsPaths),
}

/// What an identity is made into (a rustls configuration).
type Build<T> = dyn Fn(&Identity) -> Result<T, TlsError> + Send + Sync;

/// An identity and what was built from it, rebuilt when its files change: `current`
/// re-reads them at most every [`RELOAD_CHECK`], and a broken or half-written update
/// keeps the last good one (with a warning).
pub struct Reloading<T> {
    source: Source,
    build: Box<Build<T>>,
    state: Mutex<State<T>>,
}

struct State<T> {
    checked: Instant,
    identity: Identity,
    built: Arc<T>,
}

impl<T> std::fmt::Debug for Reloading<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloading")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl<T> Reloading<T> {
    /// Loads and builds once, failing if either fails (a process does not start with
    /// unusable certificates).
    pub fn new(
        source: Source,
        build: impl Fn(&Identity) -> Result<T, TlsError> + Send + Sync + 'static,
    ) -> Result<Self, TlsError> {
        let identity = match &source {
            Source::Fixed(id) => id.clone(),
            Source::Files(paths) => Identity::load(paths)?,
        };
        let built = Arc::new(build(&identity)?);
        Ok(Reloading {
            source,
            build: Box::new(build),
            state: Mutex::new(State {
                checked: Instant::now(),
                identity,
                built,
            }),
        })
    }

    /// What is built from the identity as it is now.
    pub fn current(&self) -> Arc<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Source::Files(paths) = &self.source
            && state.checked.elapsed() >= RELOAD_CHECK
        {
            state.checked = Instant::now();
            match Identity::load(paths).and_then(|id| {
                if id == state.identity {
                    return Ok(None);
                }
                let built = (self.build)(&id)?;
                Ok(Some((id, built)))
            }) {
                Ok(None) => {}
                Ok(Some((id, built))) => {
                    tracing::info!(cert = %paths.cert.display(), "gRPC TLS certificates reloaded");
                    state.identity = id;
                    state.built = Arc::new(built);
                }
                Err(e) => {
                    tracing::warn!(cert = %paths.cert.display(), error = %e, "gRPC TLS certificates not reloaded; keeping the last good ones");
                }
            }
        }
        state.built.clone()
    }

    /// Looks at the files on the next [`current`](Self::current) call, not after
    /// [`RELOAD_CHECK`] (tests).
    pub fn check_now(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        state.checked = now.checked_sub(RELOAD_CHECK).unwrap_or(now);
    }
}
