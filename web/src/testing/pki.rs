//! [`Pki`]: test certificates made with rcgen for each test, shared by
//! the tests of the web servers, the scraper's secured targets and the receivers.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA, a server certificate for 127.0.0.1/localhost and client certificates signed by
/// it, and a second CA with its own client and server certificates, as PEM files in a
/// temporary directory:
///
/// `ca.pem`, `server.pem`/`server-key.pem`, `client.pem`/`client-key.pem` (SAN
/// `client.example`), `intruder.pem`/`intruder-key.pem` (same CA, SAN `intruder.example`),
/// `other-ca.pem`, `other-client.pem`/`-key.pem`, `other-server.pem`/`-key.pem`.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: Issuer<'static, KeyPair>,
    other: Issuer<'static, KeyPair>,
}

impl Pki {
    /// Panics when the temporary directory or a certificate cannot be made (tests only).
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (ca_pem, first) = ca("telltale test CA");
        let (other_pem, other) = ca("another CA");
        let pki = Pki {
            dir,
            ca: first,
            other,
        };
        pki.write("ca.pem", &ca_pem);
        pki.leaf(
            &pki.ca,
            "server",
            &["127.0.0.1", "localhost"],
            &[],
            Some(false),
        );
        pki.leaf(&pki.ca, "client", &["client.example"], &[], Some(true));
        pki.leaf(&pki.ca, "intruder", &["intruder.example"], &[], Some(true));
        pki.write("other-ca.pem", &other_pem);
        pki.leaf(
            &pki.other,
            "other-client",
            &["client.example"],
            &[],
            Some(true),
        );
        pki.leaf(
            &pki.other,
            "other-server",
            &["127.0.0.1", "localhost"],
            &[],
            Some(false),
        );
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("a file of the test PKI")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("writable test directory");
        p
    }

    /// A certificate of the CA (`other`: of the other CA) for both servers and clients,
    /// with DNS/IP SANs `sans` and URI SANs `uris` (a gRPC role: `urn:telltale:role:…`),
    /// as `name.pem` and `name-key.pem`, a new key each time (a rotation).
    pub fn issue(&self, name: &str, sans: &[&str], uris: &[&str], other: bool) -> PathBuf {
        let issuer = if other { &self.other } else { &self.ca };
        self.leaf(issuer, name, sans, uris, None);
        self.path(&format!("{name}.pem"))
    }

    /// `client`: Some(true) client only, Some(false) server only, None both.
    fn leaf(
        &self,
        issuer: &Issuer<'static, KeyPair>,
        name: &str,
        sans: &[&str],
        uris: &[&str],
        client: Option<bool>,
    ) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("valid SANs");
        for uri in uris {
            params.subject_alt_names.push(rcgen::SanType::URI(
                rcgen::string::Ia5String::try_from(*uri).expect("an ASCII URI"),
            ));
        }
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = match client {
            Some(true) => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Some(false) => vec![ExtendedKeyUsagePurpose::ServerAuth],
            None => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, issuer)
            .expect("a signed certificate");
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}-key.pem"), &key.serialize_pem());
    }

    /// A web configuration file `web.yml` with `text`; paths in it are relative to the
    /// directory of the certificates.
    pub fn web_config(&self, text: &str) -> PathBuf {
        self.write("web.yml", text)
    }

    /// A reqwest client that trusts `ca` (a file of this directory; none: only the
    /// built-in roots are off too, so nothing is trusted) and presents `identity`
    /// (`client` → `client.pem` + `client-key.pem`). No connection pool: each request
    /// makes a new connection, as the reload tests need.
    pub fn client(&self, ca: Option<&str>, identity: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .pool_max_idle_per_host(0)
            .no_proxy();
        if let Some(ca) = ca {
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(&self.read(ca)).expect("a PEM CA"),
            );
        }
        if let Some(id) = identity {
            let mut pem = self.read(&format!("{id}.pem"));
            pem.extend(self.read(&format!("{id}-key.pem")));
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("a PEM identity"));
        }
        b.build().expect("a test client")
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("a key");
    let cert = params.self_signed(&key).expect("a self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}
