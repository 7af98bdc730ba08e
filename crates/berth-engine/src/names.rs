//! Container names: validation and `adjective_name` generation.

const LEFT: &[&str] = &[
    "admiring", "brave", "busy", "calm", "clever", "cool", "dazzling", "eager", "elated",
    "festive", "focused", "gallant", "gentle", "happy", "hopeful", "jolly", "keen", "kind",
    "lucid", "modest", "nifty", "peaceful", "quirky", "relaxed", "serene", "sharp", "stoic",
    "sweet", "tender", "upbeat", "vibrant", "wizardly", "youthful", "zealous",
];
const RIGHT: &[&str] = &[
    "albattani",
    "archimedes",
    "babbage",
    "bohr",
    "curie",
    "darwin",
    "dijkstra",
    "einstein",
    "euler",
    "fermat",
    "gauss",
    "hopper",
    "hypatia",
    "kepler",
    "knuth",
    "lamport",
    "lovelace",
    "maxwell",
    "newton",
    "noether",
    "pascal",
    "ritchie",
    "shannon",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "wozniak",
    "yalow",
    "zuse",
];

/// Docker's name rule: `^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`.
pub fn valid(n: &str) -> bool {
    let n = n.strip_prefix('/').unwrap_or(n);
    let b = n.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// A random `adjective_surname` name.
pub fn generate() -> String {
    let id = berth_types::new_id();
    let n = u64::from_str_radix(&id[..16], 16).unwrap_or(0);
    format!(
        "{}_{}",
        LEFT[(n % LEFT.len() as u64) as usize],
        RIGHT[((n >> 32) % RIGHT.len() as u64) as usize]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert!(super::valid("web1") && super::valid("/a.b-c_d"));
        assert!(!super::valid("-x") && !super::valid("a") && !super::valid("a b"));
        assert!(super::valid(&super::generate()));
    }
}
