//! Image references in Docker's grammar and normalisation
//! (distribution/reference: `reference.go` grammar, `normalize.go`).
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [domain "/"] path-component ("/" path-component)*
//! domain     := domain-component ("." domain-component)* [":" port]   | "[" ipv6 "]" [":" port]
//! path-component := [a-z0-9]+ (("." | "_" | "__" | "-"+) [a-z0-9]+)*
//! tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! Normalisation: a first component without `.` or `:` that is not
//! `localhost` is not a domain, so the domain is `docker.io`, and a
//! single-component name on `docker.io` gets `library/` (`busybox` ->
//! `docker.io/library/busybox`); `index.docker.io` becomes `docker.io`; a name
//! with neither tag nor digest gets `:latest` ([`Reference::parse`]). The
//! "familiar" form ([`Reference::familiar`]) strips those defaults again, as
//! the docker CLI prints them (`busybox:latest`).

use std::fmt;

use berth_types::Digest;

use crate::ImageError;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

const NAME_TOTAL_MAX: usize = 255;

fn invalid() -> ImageError {
    ImageError::InvalidReference("invalid reference format".to_string())
}

fn valid_path_component(c: &str) -> bool {
    // alnum+ (sep alnum+)* with sep = "." | "_" | "__" | "-"+
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[sep_start..i];
        let ok = sep == "."
            || sep == "_"
            || sep == "__"
            || (!sep.is_empty() && sep.bytes().all(|x| x == b'-'));
        if !ok || i == b.len() {
            return false;
        }
    }
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(p) => return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
                None => return false,
            },
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || *x == b'_' || *x == b'.' || *x == b'-')
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Reference {
    /// Parses and normalises `s` (Docker's `ParseNormalizedNamed` followed by
    /// `TagNameOnly`): the result always has a tag or a digest.
    ///
    /// Errors ([`ImageError::InvalidReference`], HTTP 400), with Docker's
    /// wording: `invalid reference format`, `invalid reference format:
    /// repository name (library/Busybox) must be lowercase`, `invalid
    /// repository name (<64 hex>), cannot specify 64-byte hexadecimal
    /// strings`.
    pub fn parse(s: &str) -> Result<Reference, ImageError> {
        let mut r = Reference::parse_name_only(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_string());
        }
        Ok(r)
    }

    /// Like [`Reference::parse`] but without adding `:latest`.
    pub fn parse_name_only(s: &str) -> Result<Reference, ImageError> {
        if is_hex64(s) {
            return Err(ImageError::InvalidReference(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let d: Digest = d.parse().map_err(|_| invalid())?;
                (n, Some(d))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&rest[..i], Some(&rest[i + 1..]))
            }
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid());
            }
        }
        if name.is_empty() {
            return Err(invalid());
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), remainder.to_string())
            }
            Some(_) => ("docker.io".to_string(), name.to_string()),
            None => ("docker.io".to_string(), format!("library/{name}")),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io".to_string()
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ImageError::InvalidReference(format!(
                "invalid reference format: repository name ({path}) must be lowercase"
            )));
        }
        if !valid_domain(&domain) || !path.split('/').all(valid_path_component) {
            return Err(invalid());
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_MAX {
            return Err(ImageError::InvalidReference(
                "invalid reference format: repository name must not be more than 255 characters"
                    .to_string(),
            ));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry host (and port): `docker.io`, `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// This reference with `tag` as its tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// This reference's name with `digest` and no tag.
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest.clone()),
        }
    }

    /// The familiar repository name: `busybox`, `user/app`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The familiar form the docker CLI prints: `busybox:latest`,
    /// `localhost:5000/app@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    /// The full normalised form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(n("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(
            n("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(n("localhost/app"), "localhost/app:latest");
        assert_eq!(n("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(n("quay.io/x/y"), "quay.io/x/y:latest");
        assert_eq!(n("[::1]:5000/app:v"), "[::1]:5000/app:v");
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(
            n(&format!("busybox@{d}")),
            format!("docker.io/library/busybox@{d}")
        );
        assert_eq!(
            n(&format!("busybox:1@{d}")),
            format!("docker.io/library/busybox:1@{d}")
        );
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("localhost:5000/app").unwrap().familiar(),
            "localhost:5000/app:latest"
        );
        assert_eq!(n("a__b-c---d/e.f_g"), "docker.io/a__b-c---d/e.f_g:latest");
    }

    #[test]
    fn rejects_with_docker_wording() {
        let e = Reference::parse("Busybox").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid reference format: repository name (library/Busybox) must be lowercase"
        );
        for bad in [
            "",
            ":tag",
            "busybox:",
            "busybox:-x",
            "a//b",
            "a/",
            "-a",
            "a..b",
            "busybox@sha256:12",
            "a:b:c",
            "UPPER.io:x/y:z:w",
        ] {
            assert_eq!(
                Reference::parse(bad).unwrap_err().to_string(),
                "invalid reference format",
                "{bad:?}"
            );
        }
        let long_tag = format!("busybox:{}", "a".repeat(129));
        assert!(Reference::parse(&long_tag).is_err());
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(Reference::parse(hex)
            .unwrap_err()
            .to_string()
            .contains("64-byte hexadecimal"));
        assert_eq!(Reference::parse("Quay.io/x").unwrap().domain(), "Quay.io");
    }
}
