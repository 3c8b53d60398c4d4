//! The front end built by `build.rs` (npm, esbuild) and embedded in the binary, and how
//! each file is answered: content type, `ETag`, and cache policy.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One embedded file of the built front end.
#[derive(Debug)]
pub struct Asset {
    /// Path relative to the build's root (`index.html`, `assets/main-HASH.js`).
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
    /// A quoted content fingerprint.
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// Every embedded file.
pub fn all() -> &'static [Asset] {
    ASSETS
}

/// The embedded file at `path`, if any.
pub fn get(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The single page every UI route answers with.
pub fn index() -> &'static Asset {
    // build.rs fails the build when the front end has no index.html.
    get("index.html").unwrap_or(&ASSETS[0])
}

/// How long browsers may keep a file: content-hashed bundles forever, the page itself
/// revalidated on every load (so a new build is picked up at once).
pub fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// The response for `asset` given the request's headers (304 when `If-None-Match` names
/// its ETag).
pub fn respond(asset: &Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control(asset.path)),
        ),
        (header::ETAG, HeaderValue::from_static(asset.etag)),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (StatusCode::OK, headers, asset.bytes).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_embeds_a_page_that_loads_its_hashed_bundles() {
        let page = std::str::from_utf8(index().bytes).unwrap();
        assert_eq!(index().path, "index.html");
        assert_eq!(index().content_type, "text/html; charset=utf-8");
        let bundles: Vec<&Asset> = all()
            .iter()
            .filter(|a| a.path.starts_with("assets/"))
            .collect();
        assert!(bundles.iter().any(|a| a.path.ends_with(".js")));
        assert!(bundles.iter().any(|a| a.path.ends_with(".css")));
        for b in bundles {
            assert!(
                page.contains(&format!("/{}", b.path)),
                "{} not referenced",
                b.path
            );
        }
    }

    #[test]
    fn bundles_are_immutable_and_the_page_is_revalidated() {
        assert_eq!(
            cache_control("assets/main-ABC.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control("index.html"), "no-cache");
    }

    #[test]
    fn a_matching_etag_gets_304_without_a_body() {
        let a = index();
        let mut h = HeaderMap::new();
        assert_eq!(respond(a, &h).status(), StatusCode::OK);
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(respond(a, &h).status(), StatusCode::OK);
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {}", a.etag)).unwrap(),
        );
        let r = respond(a, &h);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::ETAG], a.etag);
    }
}
