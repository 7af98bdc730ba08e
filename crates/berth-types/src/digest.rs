//! Content digests, as the OCI image spec defines them
//! (image-spec `descriptor.md`, section "Digests").
//!
//! A digest is `algorithm ":" encoded`. Berth verifies the two registered
//! algorithms, `sha256` (64 lower-case hex characters) and `sha512`
//! (128 lower-case hex characters); any other algorithm that matches the
//! spec's grammar is parsed but reported as unsupported by [`Digester::new`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// A digest algorithm registered by the OCI image spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `sha256`: the default for every OCI and Docker object.
    Sha256,
    /// `sha512`: registered, optional; the distribution spec's conformance
    /// suite pushes blobs with it.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears before the `:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded value, in characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// No `:` separates the algorithm from the encoded value.
    #[error("invalid digest {0:?}: missing ':' between algorithm and value")]
    MissingSeparator(String),
    /// The algorithm is well formed but not one Berth can compute.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The algorithm part does not match the spec's grammar.
    #[error("invalid digest algorithm {0:?}")]
    InvalidAlgorithm(String),
    /// The encoded part has the wrong length or characters for its algorithm.
    #[error("invalid {algorithm} digest value {value:?}: want {want} lower-case hex characters")]
    InvalidEncoded {
        /// The algorithm named before the `:`.
        algorithm: Algorithm,
        /// The offending encoded value.
        value: String,
        /// The expected number of hex characters.
        want: usize,
    },
}

/// A verified-format content digest such as `sha256:e3b0c442…`.
///
/// Equality and hashing compare algorithm and value; `Display` gives the
/// canonical `algorithm:hex` form, which is also the serde form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Builds a digest from an algorithm and its hex value, validating the
    /// value's length and alphabet.
    pub fn new(algorithm: Algorithm, hex: &str) -> Result<Digest, DigestError> {
        let ok = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(DigestError::InvalidEncoded {
                algorithm,
                value: hex.to_string(),
                want: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }

    /// The digest of `data` under `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut d = Digester::for_algorithm(algorithm);
        d.update(data);
        d.finish()
    }

    /// The algorithm before the `:`.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded value after the `:`.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters: Docker's short ID form.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

fn valid_algorithm_grammar(s: &str) -> bool {
    // algorithm-component (algorithm-separator algorithm-component)*
    // component: [a-z0-9]+ ; separator: [+._-]
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingSeparator(s.to_string()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other if valid_algorithm_grammar(other) => {
                return Err(DigestError::UnsupportedAlgorithm(other.to_string()))
            }
            other => return Err(DigestError::InvalidAlgorithm(other.to_string())),
        };
        Digest::new(algorithm, hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental digest computation, for streams that never sit in memory
/// whole (layer downloads, blob uploads, archive members).
#[derive(Clone)]
pub struct Digester {
    state: State,
    len: u64,
}

#[derive(Clone)]
enum State {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Digester {
    /// A digester for the algorithm named in `expected` (for verifying a
    /// stream against a digest given by a client).
    pub fn new(expected: &Digest) -> Digester {
        Digester::for_algorithm(expected.algorithm())
    }

    /// A digester for `algorithm`.
    pub fn for_algorithm(algorithm: Algorithm) -> Digester {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Sha512::new()),
        };
        Digester { state, len: 0 }
    }

    /// Feeds `data` into the digest.
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        match &mut self.state {
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed so far (without consuming the digester).
    pub fn current(&self) -> Digest {
        self.clone().finish()
    }

    /// Consumes the digester and returns the digest.
    pub fn finish(self) -> Digest {
        match self.state {
            State::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            State::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

impl std::io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_canonical_form() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d, Digest::sha256_of(b""));
        assert_eq!(d.short(), "e3b0c44298fc");
    }

    #[test]
    fn sha512_round_trip() {
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert_eq!(d.hex().len(), 128);
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            "sha256".parse::<Digest>(),
            Err(DigestError::MissingSeparator(_))
        ));
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(DigestError::InvalidEncoded { .. })
        ));
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        assert!(upper.parse::<Digest>().is_err());
        assert!(matches!(
            "md5:abc".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            "SHA256:abc".parse::<Digest>(),
            Err(DigestError::InvalidAlgorithm(_))
        ));
    }

    #[test]
    fn streaming_matches_one_shot() {
        let mut d = Digester::for_algorithm(Algorithm::Sha256);
        d.update(b"hello ");
        d.update(b"world");
        assert_eq!(d.len(), 11);
        assert_eq!(d.finish(), Digest::sha256_of(b"hello world"));
    }

    #[test]
    fn serde_uses_string_form() {
        let d: Digest = EMPTY.parse().unwrap();
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Digest>(&j).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
