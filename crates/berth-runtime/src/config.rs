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
    /// Capability names in `process.capabilities` that this runtime cannot
    /// map to a kernel capability, each as `<set>: <name>`, dropped from
    /// the spec. config.md ("Linux process", `capabilities`): such a value
    /// "MUST be logged as a warning" and runtimes "SHOULD NOT fail".
    pub ignored_capabilities: Vec<String>,
}

/// Parses a config.json document.
///
/// A malformed field is an [`Error::Config`] naming its JSON path (e.g.
/// `process.user.uid: invalid type: string "x", expected u32`). An unknown
/// field is NOT an error (runtime-spec config.md: "Runtimes MUST ignore
/// unknown properties"); its path is returned in `unknown_fields`.
pub fn parse_config(data: &[u8]) -> Result<LoadedConfig> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let fast = parse_strict::<Spec, _>(&mut de).and_then(|r| {
        de.end().map_err(|e| Error::Config {
            path: ".".into(),
            msg: e.to_string(),
        })?;
        Ok(r)
    });
    match fast {
        Ok((spec, unknown_fields)) => Ok(LoadedConfig {
            spec,
            unknown_fields,
            ignored_capabilities: Vec::new(),
        }),
        // Slow path, only for a config naming a capability oci-spec does
        // not know: drop the unknown names and parse again.
        Err(Error::Config { path, .. }) if path.starts_with("process.capabilities.") => {
            let mut v: serde_json::Value =
                serde_json::from_slice(data).map_err(|e| Error::Config {
                    path: ".".into(),
                    msg: e.to_string(),
                })?;
            let ignored = match v.get_mut("process") {
                Some(p) => drop_unknown_capabilities(p),
                None => Vec::new(),
            };
            let (spec, unknown_fields) = parse_strict::<Spec, _>(v)?;
            Ok(LoadedConfig {
                spec,
                unknown_fields,
                ignored_capabilities: ignored,
            })
        }
        Err(e) => Err(e),
    }
}

/// Parses an exec's process.json (`runc exec --process`) as
/// [`parse_config`] parses config.json: a malformed field is an
/// [`Error::Config`] naming its path below `process`; unknown capability
/// names are dropped and returned as `<set>: <name>` (config.md: logged as
/// a warning, not a failure).
pub fn parse_process(data: &[u8]) -> Result<(oci_spec::runtime::Process, Vec<String>)> {
    let mut v: serde_json::Value = serde_json::from_slice(data).map_err(|e| Error::Config {
        path: "process".into(),
        msg: e.to_string(),
    })?;
    let ignored = drop_unknown_capabilities(&mut v);
    let (p, _) = parse_strict::<oci_spec::runtime::Process, _>(v).map_err(|e| match e {
        Error::Config { path, msg } => Error::Config {
            path: format!("process.{path}"),
            msg,
        },
        e => e,
    })?;
    Ok((p, ignored))
}

/// Deserializes `T` from `de`, collecting the paths of ignored (unknown)
/// fields and naming the path of a malformed one.
fn parse_strict<'de, T, D>(de: D) -> Result<(T, Vec<String>)>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    let mut unknown = Vec::new();
    let mut cb = |p: serde_ignored::Path<'_>| unknown.push(p.to_string().replace(".?", ""));
    let ig = serde_ignored::Deserializer::new(de, &mut cb);
    let value = serde_path_to_error::deserialize(ig).map_err(|e| Error::Config {
        path: e.path().to_string(),
        msg: e.into_inner().to_string(),
    })?;
    Ok((value, unknown))
}

/// Removes from each set of `process.capabilities` (`process` is the
/// process object) the names oci-spec's [`Capability`] does not know, and
/// returns them as `<set>: <name>`.
///
/// [`Capability`]: oci_spec::runtime::Capability
fn drop_unknown_capabilities(process: &mut serde_json::Value) -> Vec<String> {
    let mut ignored = Vec::new();
    let Some(sets) = process
        .get_mut("capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return ignored;
    };
    for (set, names) in sets.iter_mut() {
        if let Some(list) = names.as_array_mut() {
            list.retain(|n| {
                let known =
                    serde_json::from_value::<oci_spec::runtime::Capability>(n.clone()).is_ok();
                if !known && n.is_string() {
                    ignored.push(format!("{set}: {}", n.as_str().unwrap_or_default()));
                }
                // A non-string stays, so the strict parse names the field.
                known || !n.is_string()
            });
        }
    }
    ignored
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
    for c in &loaded.ignored_capabilities {
        eprintln!(
            "warning: {}: process.capabilities.{c}: unknown capability ignored",
            cfg.display()
        );
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
    fn unknown_capability_is_a_warning() {
        let l = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_KILL","CAP_TEST"],"effective":["CAP_KILL"]}}}"#,
        )
        .unwrap();
        assert_eq!(
            l.ignored_capabilities,
            vec!["bounding: CAP_TEST".to_string()]
        );
        let caps = l
            .spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        // A malformed (non-string) capability is still an error naming it.
        let e = parse_config(
            br#"{"ociVersion":"1.0.2","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_TEST",7]}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("process.capabilities.bounding"), "{e}");
        let (p, ignored) = parse_process(
            br#"{"cwd":"/","args":["true"],"user":{"uid":0,"gid":0},
                "capabilities":{"permitted":["CAP_NOPE"]}}"#,
        )
        .unwrap();
        assert_eq!(ignored, vec!["permitted: CAP_NOPE".to_string()]);
        assert_eq!(p.args().as_ref().unwrap()[0], "true");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse_config(br#"{"ociVersion":"1.0.2"} x"#).is_err());
    }
}
