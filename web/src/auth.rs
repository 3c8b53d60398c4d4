//! Basic authentication and the configured response headers, as one axum middleware on
//! every route (exporter-toolkit's `webHandler`).
//!
//! Each request takes the current configuration from the [`Watcher`] (so a changed user
//! list applies at once), sets the configured headers (on 401s too), and, when
//! `basic_auth_users` is not empty, requires `Authorization: Basic` credentials whose
//! password matches the user's bcrypt hash. A failure is `401 Unauthorized` with
//! `WWW-Authenticate: Basic`.
//!
//! bcrypt is slow on purpose, so as in exporter-toolkit: results are cached by (user,
//! hash, password) — through SHA-256, so the cache holds no plaintext — a hash is
//! compared by one request at a time (off the async workers), and an unknown user is
//! compared against a fixed hash so that timing does not tell which users exist.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::reload::Watcher;

/// How many verified (user, hash, password) results are kept (exporter-toolkit's size).
const CACHE_SIZE: usize = 100;

/// The bcrypt cost of the hash an unknown user's password is compared against
/// (exporter-toolkit's fixed hash has cost 10).
const UNKNOWN_USER_COST: u32 = 10;

/// Whether `hash` is a bcrypt hash that exporter-toolkit accepts (Go's `bcrypt.Cost`) and
/// that the bcrypt crate can compare against; the error says why not.
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    let b = hash.as_bytes();
    if b.len() < 59 {
        return Err("hashedSecret too short to be a bcrypted password".into());
    }
    if b[0] != b'$' {
        return Err(format!("invalid bcrypt hash prefix {:?}", b[0] as char));
    }
    if b[1] > b'2' {
        return Err("bcrypt algorithm version is too new".into());
    }
    let n = if b[2] == b'$' { 3 } else { 4 };
    let cost = std::str::from_utf8(&b[n..n + 2])
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or("bcrypt cost is not a number")?;
    if !(4..=31).contains(&cost) {
        return Err(format!("bcrypt cost {cost} is outside 4..31"));
    }
    hash.parse::<bcrypt::HashParts>()
        .map_err(|e| format!("not a bcrypt hash this server can verify: {e}"))?;
    Ok(())
}

/// The verified-credentials cache and the one-at-a-time bcrypt gate; one per server,
/// kept across configuration reloads (its keys include the hash, so a changed password
/// hash is never answered from it).
#[derive(Default)]
pub(crate) struct Authenticator {
    cache: Mutex<Cache>,
    bcrypt_gate: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    results: HashMap<[u8; 32], bool>,
    order: VecDeque<[u8; 32]>,
}

impl Authenticator {
    /// Whether `user` with `password` is one of `users` (user → bcrypt hash).
    pub(crate) async fn verify(
        &self,
        users: &std::collections::BTreeMap<String, String>,
        user: &[u8],
        password: &[u8],
    ) -> bool {
        let known = std::str::from_utf8(user).ok().and_then(|u| users.get(u));
        let hash = match known {
            Some(h) => h.clone(),
            None => unknown_user_hash().to_string(),
        };
        let key = cache_key(user, &hash, password);
        if let Some(ok) = self.cached(&key) {
            return ok && known.is_some();
        }
        let matches = {
            let _one_at_a_time = self.bcrypt_gate.lock().await;
            let password = password.to_vec();
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        };
        let ok = matches && known.is_some();
        self.remember(key, ok);
        ok
    }

    fn cached(&self, key: &[u8; 32]) -> Option<bool> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.results.get(key).copied()
    }

    fn remember(&self, key: [u8; 32], ok: bool) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.results.insert(key, ok).is_none() {
            cache.order.push_back(key);
        }
        // Drop a tenth at once when full, oldest first, so that eviction is rare.
        if cache.results.len() > CACHE_SIZE {
            for _ in 0..CACHE_SIZE / 10 {
                if let Some(old) = cache.order.pop_front() {
                    cache.results.remove(&old);
                }
            }
        }
    }

    #[cfg(test)]
    fn cached_count(&self) -> usize {
        self.cache.lock().unwrap().results.len()
    }
}

/// The hash compared against for an unknown user, made once. Its password does not
/// matter: an unknown user is refused whatever the comparison says.
fn unknown_user_hash() -> &'static str {
    static HASH: LazyLock<String> = LazyLock::new(|| {
        bcrypt::hash("telltale: no such user", UNKNOWN_USER_COST).unwrap_or_default()
    });
    &HASH
}

fn cache_key(user: &[u8], hash: &str, password: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user, hash.as_bytes(), password] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// User and password of an `Authorization: Basic` header, as Go's `Request.BasicAuth`:
/// the scheme case-insensitive, standard padded base64, split at the first colon.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    if value.len() < 6 || !value[..6].eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&value[6..])
        .ok()?;
    let colon = decoded.iter().position(|&c| c == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

#[derive(Clone)]
struct Guard {
    watcher: Arc<Watcher>,
    auth: Arc<Authenticator>,
}

/// `app` with basic auth and the configured headers on every route, its fallback
/// included, following the watcher's current configuration.
pub(crate) fn apply(app: Router, watcher: Arc<Watcher>) -> Router {
    let guard = Guard {
        watcher,
        auth: Arc::new(Authenticator::default()),
    };
    app.layer(axum::middleware::from_fn_with_state(guard, guard_request))
}

async fn guard_request(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let config = guard.watcher.current();
    let users = config.users();
    if !users.is_empty() {
        let ok = match basic_credentials(request.headers()) {
            Some((user, password)) => guard.auth.verify(users, &user, &password).await,
            None => false,
        };
        if !ok {
            let mut response = unauthorized();
            add_headers(response.headers_mut(), config.headers());
            return response;
        }
    }
    let mut response = next.run(request).await;
    add_headers(response.headers_mut(), config.headers());
    response
}

/// Go's `http.Error(w, "Unauthorized", 401)` after `WWW-Authenticate: Basic`.
fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    let h = response.headers_mut();
    h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The configured headers, where the handler did not set the header itself (Go sets them
/// before calling the handler, which may overwrite them).
fn add_headers(response: &mut HeaderMap, configured: &HeaderMap) {
    for (name, value) in configured {
        if !response.contains_key(name) {
            response.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn auth_header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn credentials_as_go() {
        // "alice:se:cret"
        let h = auth_header("bAsIc YWxpY2U6c2U6Y3JldA==");
        assert_eq!(
            basic_credentials(&h),
            Some((b"alice".to_vec(), b"se:cret".to_vec()))
        );
        assert_eq!(basic_credentials(&auth_header("Bearer YWxpY2U6eA==")), None);
        assert_eq!(basic_credentials(&auth_header("Basic !!!")), None);
        // No colon.
        assert_eq!(basic_credentials(&auth_header("Basic YWxpY2U=")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn hashes_as_go_bcrypt_cost() {
        let good = bcrypt::hash("pw", 4).unwrap();
        assert_eq!(check_hash(&good), Ok(()));
        assert!(check_hash("$2y$10$abc").unwrap_err().contains("too short"));
        assert!(
            check_hash(&good.replacen('$', "x", 1))
                .unwrap_err()
                .contains("prefix")
        );
        assert!(
            check_hash(&good.replacen("$2b$04$", "$3b$04$", 1))
                .unwrap_err()
                .contains("too new")
        );
        assert!(
            check_hash(&good.replacen("$04$", "$03$", 1))
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            check_hash(&good.replacen("$04$", "$x4$", 1))
                .unwrap_err()
                .contains("number")
        );
    }

    #[tokio::test]
    async fn verify_caches_by_user_hash_and_password() {
        let auth = Authenticator::default();
        let mut users = BTreeMap::new();
        users.insert("alice".to_string(), bcrypt::hash("right", 4).unwrap());
        assert!(auth.verify(&users, b"alice", b"right").await);
        assert!(!auth.verify(&users, b"alice", b"wrong").await);
        assert!(!auth.verify(&users, b"bob", b"right").await);
        assert_eq!(auth.cached_count(), 3);
        // Answered from the cache.
        assert!(auth.verify(&users, b"alice", b"right").await);
        assert_eq!(auth.cached_count(), 3);
        // A new hash for the same password is verified again, not taken from the cache.
        users.insert("alice".to_string(), bcrypt::hash("other", 4).unwrap());
        assert!(!auth.verify(&users, b"alice", b"right").await);
        assert!(auth.verify(&users, b"alice", b"other").await);
        assert_eq!(auth.cached_count(), 5);
    }

    #[test]
    fn cache_stays_bounded() {
        let auth = Authenticator::default();
        for i in 0..1000u32 {
            auth.remember(cache_key(b"u", "h", &i.to_be_bytes()), false);
        }
        assert!(auth.cached_count() <= CACHE_SIZE);
        assert!(auth.cached_count() > CACHE_SIZE / 2);
    }

    proptest! {
        #[test]
        fn any_authorization_header_is_safe(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = HeaderValue::from_bytes(&bytes) {
                let mut h = HeaderMap::new();
                h.insert(header::AUTHORIZATION, v);
                let _ = basic_credentials(&h);
            }
        }

        #[test]
        fn any_hash_text_is_safe(s in ".{0,80}") {
            let _ = check_hash(&s);
        }
    }
}
