//! Loading and checking an OCI bundle's config.json (runtime-spec
//! `config.md`).

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

/// A parsed config.json with the warnings it produced.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The configuration.
    pub spec: Spec,
    /// JSON paths of fields this runtime does not know, ignored as the
    /// runtime spec requires ("MUST ignore unknown properties").
    pub unknown_fields: Vec<String>,
}

/// Parses a config.json document.
///
/// A malformed field is an [`Error::Config`] naming its JSON path (e.g.
/// `process.user.uid: invalid type: string "x", expected u32`). An unknown
/// field is NOT an error (runtime-spec config.md: "Runtimes MUST ignore
/// unknown properties"); its path is returned in `unknown_fields`.
pub fn parse_config(data: &[u8]) -> Result<LoadedConfig> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(data);
    let spec: Spec = {
        let mut cb = |p: serde_ignored::Path<'_>| unknown.push(p.to_string().replace(".?", ""));
        let ig = serde_ignored::Deserializer::new(&mut de, &mut cb);
        serde_path_to_error::deserialize(ig).map_err(|e| {
            let path = e.path().to_string();
            Error::Config {
                path,
                msg: e.into_inner().to_string(),
            }
        })?
    };
    de.end().map_err(|e| Error::Config {
        path: ".".into(),
        msg: e.to_string(),
    })?;
    Ok(LoadedConfig {
        spec,
        unknown_fields: unknown,
    })
}

/// Reads and checks `<bundle>/config.json`, printing one warning line on
/// stderr per unknown field. Checks what create needs: `process` with
/// non-empty `args`, `root.path` naming an existing directory, an absolute
/// `process.cwd`, absolute mount destinations.
///
/// Returns the spec and the absolute rootfs path.
///
/// # Errors
/// [`Error::Bundle`] when config.json is missing or the rootfs is not a
/// directory; [`Error::Config`] naming the field otherwise.
pub fn load_bundle(bundle: &Path) -> Result<(Spec, PathBuf)> {
    let cfg = bundle.join("config.json");
    let data = std::fs::read(&cfg).map_err(|e| Error::Bundle {
        bundle: bundle.to_path_buf(),
        msg: format!("cannot read config.json: {e}"),
    })?;
    let loaded = parse_config(&data)?;
    for f in &loaded.unknown_fields {
        eprintln!("warning: {}: unknown field {f} ignored", cfg.display());
    }
    let spec = loaded.spec;
    check_spec(&spec)?;
    let root = spec.root().as_ref().ok_or_else(|| Error::Config {
        path: "root".into(),
        msg: "missing".into(),
    })?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        return Err(Error::Bundle {
            bundle: bundle.to_path_buf(),
            msg: format!("root.path {} is not a directory", rootfs.display()),
        });
    }
    Ok((spec, rootfs))
}

/// Semantic checks of a spec that serde cannot express.
///
/// # Errors
/// [`Error::Config`] naming the field.
pub fn check_spec(spec: &Spec) -> Result<()> {
    let bad = |path: &str, msg: &str| {
        Err(Error::Config {
            path: path.into(),
            msg: msg.into(),
        })
    };
    let Some(p) = spec.process() else {
        return bad("process", "missing (required by create)");
    };
    check_process(p, "process")?;
    if let Some(mounts) = spec.mounts() {
        for (i, m) in mounts.iter().enumerate() {
            if !m.destination().is_absolute() {
                return bad(
                    &format!("mounts[{i}].destination"),
                    "must be an absolute path",
                );
            }
        }
    }
    if let Some(l) = spec.linux() {
        if let Some(label) = l.mount_label().as_deref().filter(|v| !v.is_empty()) {
            return Err(lsm_refused("linux.mountLabel", Lsm::Selinux, label));
        }
        if let Some(ns) = l.namespaces() {
            let mut seen = std::collections::HashSet::new();
            for (i, n) in ns.iter().enumerate() {
                if !seen.insert(n.typ()) {
                    return bad(
                        &format!("linux.namespaces[{i}].type"),
                        "namespace type listed twice",
                    );
                }
            }
        }
    }
    Ok(())
}

/// Checks a `process` object (config.json's or an exec's process.json).
///
/// # Errors
/// [`Error::Config`] naming `<prefix>.args` or `<prefix>.cwd`.
pub fn check_process(p: &oci_spec::runtime::Process, prefix: &str) -> Result<()> {
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Config {
            path: format!("{prefix}.args"),
            msg: "must name the program to run".into(),
        });
    }
    if !p.cwd().is_absolute() {
        return Err(Error::Config {
            path: format!("{prefix}.cwd"),
            msg: "must be an absolute path".into(),
        });
    }
    if let Some(v) = p.apparmor_profile().as_deref().filter(|v| !v.is_empty()) {
        return Err(lsm_refused(
            &format!("{prefix}.apparmorProfile"),
            Lsm::Apparmor,
            v,
        ));
    }
    if let Some(v) = p.selinux_label().as_deref().filter(|v| !v.is_empty()) {
        return Err(lsm_refused(
            &format!("{prefix}.selinuxLabel"),
            Lsm::Selinux,
            v,
        ));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Lsm {
    Apparmor,
    Selinux,
}

/// berth-runtime applies no LSM label. A requested AppArmor profile or
/// SELinux label is refused rather than ignored: the container would
/// otherwise run without the confinement its config asks for. The message
/// says whether the host has that LSM at all.
fn lsm_refused(path: &str, lsm: Lsm, value: &str) -> Error {
    let (name, enabled) = match lsm {
        Lsm::Apparmor => (
            "AppArmor",
            std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
                .is_ok_and(|v| v.trim() == "Y"),
        ),
        Lsm::Selinux => ("SELinux", Path::new("/sys/fs/selinux/enforce").exists()),
    };
    let why = if enabled {
        format!("berth-runtime does not apply {name} labels")
    } else {
        format!("{name} is not enabled on this host")
    };
    Error::Config {
        path: path.into(),
        msg: format!("{value:?} cannot be applied: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_field_is_named() {
        let e = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":"x","gid":0}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("process.user.uid"), "{e}");
    }

    #[test]
    fn unknown_field_is_a_warning() {
        let l =
            parse_config(br#"{"ociVersion":"1.0.2","bogus":1,"root":{"path":"r","extra":true}}"#)
                .unwrap();
        assert_eq!(
            l.unknown_fields,
            vec!["bogus".to_string(), "root.extra".to_string()]
        );
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse_config(br#"{"ociVersion":"1.0.2"} x"#).is_err());
    }
}
