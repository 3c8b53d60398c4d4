//! The checker against promtool's: `promtool check web-config` and
//! `WebConfigFile::load` give the same verdict on the corpus in `tests/data/web-config/`
//! (`valid/`, `invalid/`), and the documented differences in `divergent/` (each file's
//! first line: `# promtool: V; telltale: V; reason`) hold. Arbitrary bytes never panic
//! the loader.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use telltale_web::WebConfigFile;

fn corpus(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/web-config")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{}: corpus missing", dir.display());
    files
}

fn promtool_valid(file: &Path) -> bool {
    let out = Command::new("promtool")
        .args(["check", "web-config"])
        .arg(file)
        .output()
        .expect("promtool is installed (Debian's prometheus package)");
    out.status.success()
}

fn verdict(valid: bool) -> &'static str {
    if valid { "valid" } else { "invalid" }
}

#[test]
fn same_verdict_as_promtool() {
    let mut disagreements = Vec::new();
    for (dir, expected) in [("valid", true), ("invalid", false)] {
        for file in corpus(dir) {
            let promtool = promtool_valid(&file);
            let ours = WebConfigFile::load(&file);
            if promtool != expected || ours.is_ok() != expected {
                disagreements.push(format!(
                    "{}: promtool {}, telltale {:?}",
                    file.display(),
                    verdict(promtool),
                    ours.map(|_| "valid")
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn documented_differences_from_promtool_hold() {
    for file in corpus("divergent") {
        let text = std::fs::read_to_string(&file).unwrap();
        let header = text.lines().next().unwrap();
        let field = |name: &str| {
            header
                .split(';')
                .find_map(|p| p.trim().trim_start_matches("# ").strip_prefix(name))
                .unwrap_or_else(|| panic!("{}: no {name} in {header:?}", file.display()))
                .trim()
                .to_string()
        };
        let (promtool, ours) = (field("promtool:"), field("telltale:"));
        assert_eq!(
            verdict(promtool_valid(&file)),
            promtool,
            "{}",
            file.display()
        );
        let loaded = WebConfigFile::load(&file);
        assert_eq!(
            verdict(loaded.is_ok()),
            ours,
            "{}: {:?}",
            file.display(),
            loaded.err()
        );
        // Refusals name the file and a field.
        if let Err(e) = loaded {
            let e = e.to_string();
            assert!(e.starts_with(&file.display().to_string()), "{e}");
        }
    }
}

#[test]
fn refusals_name_the_file_and_field() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/web-config");
    let cases = [
        (
            "invalid/client-auth-type-unknown.yml",
            "tls_server_config.client_auth_type: unknown client auth type \"Foo\"",
        ),
        ("invalid/key-mismatch.yml", "tls_server_config.key_file: "),
        (
            "invalid/header-not-allowed.yml",
            "http_server_config.headers.Server: this header can not be configured",
        ),
        (
            "invalid/user-plaintext-password.yml",
            "basic_auth_users.alice: ",
        ),
        (
            "invalid/unknown-tls-field.yml",
            "tls_server_config.cert: unknown field",
        ),
        (
            "divergent/min-tls10.yml",
            "tls_server_config.min_version: TLS10 is not supported: rustls",
        ),
        (
            "divergent/cipher-cbc.yml",
            "tls_server_config.cipher_suites[0]: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not supported by rustls",
        ),
        (
            "divergent/curve-p521.yml",
            "tls_server_config.curve_preferences[0]: CurveP521 is not supported by rustls",
        ),
    ];
    for (file, expected) in cases {
        let path = dir.join(file);
        let e = WebConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: {expected}", path.display())),
            "{e}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_loader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yml");
        std::fs::write(&file, &bytes).unwrap();
        let _ = WebConfigFile::load(&file);
    }

    #[test]
    fn yaml_like_text_never_panics_the_loader(
        keys in proptest::collection::vec(prop_oneof![
            Just("tls_server_config"), Just("cert_file"), Just("key_file"),
            Just("client_auth_type"), Just("client_ca_file"), Just("min_version"),
            Just("cipher_suites"), Just("curve_preferences"), Just("http_server_config"),
            Just("headers"), Just("http2"), Just("basic_auth_users"), Just("client_allowed_sans"),
        ], 1..6),
        values in proptest::collection::vec("[ -~]{0,12}", 1..6),
        indents in proptest::collection::vec(0usize..3, 1..6),
    ) {
        let mut text = String::new();
        for (i, key) in keys.iter().enumerate() {
            let value = &values[i % values.len()];
            let indent = "  ".repeat(indents[i % indents.len()]);
            text.push_str(&format!("{indent}{key}: {value}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("web.yml");
        std::fs::write(&file, text).unwrap();
        let _ = WebConfigFile::load(&file);
    }
}
