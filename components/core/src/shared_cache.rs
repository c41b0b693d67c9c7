//! Whether a shared cache may keep what the origin answered (RFC 9111, section 3).
//!
//! The edge cache is shared by every client, and an archived copy is served to anyone who
//! asks: what the origin marks as not for shared caches, or as one of several variants of
//! the record, must not be kept and served to another request.

/// Whether the origin's answer may be cached, given every value of its `cache-control` and
/// `vary` headers. `no-store`, `private` and `no-cache` (which asks for a revalidation the
/// edge never makes) forbid it; so does a `vary` on anything but `accept-encoding`, since
/// the edge keeps one representation per record and decodes for clients itself.
pub fn may_store<'a>(
    cache_control: impl IntoIterator<Item = &'a str>,
    vary: impl IntoIterator<Item = &'a str>,
) -> bool {
    let forbidden = cache_control
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(|directive| {
            directive
                .split_once('=')
                .map_or(directive, |(name, _)| name)
        })
        .any(|name| {
            let name = name.trim();
            ["no-store", "private", "no-cache"]
                .iter()
                .any(|forbidden| name.eq_ignore_ascii_case(forbidden))
        });
    let varies = vary
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|name| !name.is_empty() && !name.eq_ignore_ascii_case("accept-encoding"));
    !forbidden && !varies
}

#[cfg(test)]
mod tests {
    use super::may_store;

    #[test]
    fn answers_for_one_client_or_one_variant_are_not_stored() {
        assert!(may_store([], []));
        assert!(may_store(["max-age=60, public"], ["Accept-Encoding"]));
        assert!(may_store(["must-revalidate"], ["accept-encoding", ""]));
        for cache_control in [
            "no-store",
            "max-age=0, No-Store",
            "private",
            "private=\"x\"",
            "no-cache",
        ] {
            assert!(!may_store([cache_control], []), "{cache_control}");
        }
        for vary in [
            "*",
            "Authorization",
            "accept-encoding, cookie",
            "Accept-Language",
        ] {
            assert!(!may_store([], [vary]), "{vary}");
        }
        assert!(!may_store(["public", "no-store"], []));
        assert!(!may_store([], ["accept-encoding", "origin"]));
    }
}
