//! Object identifiers in Docker's form: 64 lower-case hex characters
//! (256 random bits), shown shortened to 12 characters.

/// A fresh random 64-hex-character ID, as Docker gives containers, exec
/// instances and networks (moby `pkg/stringid.GenerateRandomID`).
///
/// Panics only if the kernel's random source is unavailable, which on
/// Linux >= 3.17 (getrandom(2)) does not happen after early boot.
pub fn new_id() -> String {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("getrandom(2) failed");
    // Docker avoids IDs that are all digits, since a short all-digit ID
    // could be mistaken for a number (e.g. by the CLI's `--format` users).
    let id = hex::encode(b);
    if id[..12].bytes().all(|c| c.is_ascii_digit()) {
        return new_id();
    }
    id
}

/// The 12-character short form of an ID (or the ID itself when shorter).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

/// True for a full 64-character lower-case hex ID.
pub fn is_valid_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_full_hex() {
        let a = new_id();
        let b = new_id();
        assert!(is_valid_id(&a) && is_valid_id(&b));
        assert_ne!(a, b);
        assert_eq!(short_id(&a).len(), 12);
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
    }
}
