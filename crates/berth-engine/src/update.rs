//! `POST /containers/{id}/update` (`docker update`): new resources and
//! restart policy, checked with dockerd's rules and wording, merged into
//! the container's HostConfig as moby's `UpdateContainer` merges them (a
//! zero field keeps the old value), written to a running (or paused)
//! container's cgroups with `berth_cgroups::Cgroup::update`, then
//! persisted in its record (inspect shows it, the next start and a daemon
//! restart use it). If the cgroup write fails, the old values are written
//! back and the record is left unchanged.

use crate::container::Container;
use crate::stats::{online_cpu_list, parse_cpu_list};
use berth_api::models::{ContainerUpdateRequest, ContainerUpdateResponse, HostConfig};
use berth_api::ApiError;

/// dockerd's `linuxMinMemory`: 6 MiB.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// The CFS period `NanoCpus` is expressed with (100 ms, as dockerd).
const NANO_PERIOD: i64 = 100_000;

/// The memory+swap limit in force: Docker's default for a memory limit
/// without `MemorySwap` is twice the limit (dockerd stores that at create;
/// Berth's record keeps the 0 and the bundle doubles it).
pub fn effective_swap(h: &HostConfig) -> i64 {
    if h.memory > 0 && h.memory_swap == 0 {
        h.memory * 2
    } else {
        h.memory_swap
    }
}

/// The request-only checks of dockerd's `verifyPlatformContainerResources`
/// (400 errors), plus the warnings for what Berth discards.
pub fn validate(req: &ContainerUpdateRequest) -> Result<Vec<String>, ApiError> {
    let mut warnings = Vec::new();
    if req.memory != 0 && req.memory < MIN_MEMORY {
        return Err(ApiError::invalid("Minimum memory limit allowed is 6MB"));
    }
    if req.memory > 0 && req.memory_swap > 0 && req.memory_swap < req.memory {
        return Err(ApiError::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if req.memory_reservation != 0 && req.memory_reservation < MIN_MEMORY {
        return Err(ApiError::invalid(
            "Minimum memory reservation allowed is 6MB",
        ));
    }
    if req.memory > 0 && req.memory_reservation > 0 && req.memory < req.memory_reservation {
        return Err(ApiError::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if req.kernel_memory > 0 {
        warnings.push(
            "Specifying a kernel memory limit is deprecated and will be removed in a future release."
                .to_string(),
        );
    }
    if req.nano_cpus > 0 && req.cpu_period > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if req.nano_cpus > 0 && req.cpu_quota > 0 {
        return Err(ApiError::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let online = online_cpu_list();
    let ncpu = parse_cpu_list(&online).map(|v| v.len()).unwrap_or(1).max(1) as i64;
    if req.nano_cpus < 0 || req.nano_cpus > ncpu * 1_000_000_000 {
        return Err(ApiError::invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if req.cpu_period != 0 && !(1000..=1_000_000).contains(&req.cpu_period) {
        return Err(ApiError::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if req.cpu_quota > 0 && req.cpu_quota < 1000 {
        return Err(ApiError::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if !req.cpuset_cpus.is_empty() {
        let Some(want) = parse_cpu_list(&req.cpuset_cpus) else {
            return Err(ApiError::invalid(format!(
                "Invalid value {} for cpuset cpus",
                req.cpuset_cpus
            )));
        };
        let have = parse_cpu_list(&online).unwrap_or_default();
        if want.iter().any(|c| !have.contains(c)) {
            return Err(ApiError::invalid(format!(
                "Requested CPUs are not available - requested {}, available: {online}",
                req.cpuset_cpus
            )));
        }
    }
    if req.blkio_weight > 0 {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
                .to_string(),
        );
    }
    if let Some(p) = &req.restart_policy {
        crate::restart::validate(p)?;
    }
    Ok(warnings)
}

/// Merges `req` into `h` as moby's `container.UpdateContainer`; the
/// conflicts with the stored values are 409s prefixed with "Cannot update
/// container <id>: ".
pub fn merge(
    id: &str,
    h: &HostConfig,
    req: &ContainerUpdateRequest,
) -> Result<HostConfig, ApiError> {
    let conflict = |m: &str| ApiError::conflict(format!("Cannot update container {id}: {m}"));
    let mut n = h.clone();
    n.memory_swap = effective_swap(h);
    if req.cpu_shares != 0 {
        n.cpu_shares = req.cpu_shares;
    }
    if req.cpu_period != 0 {
        if n.nano_cpus > 0 {
            return Err(conflict(
                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
            ));
        }
        n.cpu_period = req.cpu_period;
    }
    if req.cpu_quota != 0 {
        if n.nano_cpus > 0 {
            return Err(conflict(
                "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
            ));
        }
        n.cpu_quota = req.cpu_quota;
    }
    if req.nano_cpus != 0 {
        if n.cpu_period > 0 {
            return Err(conflict(
                "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set",
            ));
        }
        if n.cpu_quota > 0 {
            return Err(conflict(
                "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set",
            ));
        }
        n.nano_cpus = req.nano_cpus;
    }
    if !req.cpuset_cpus.is_empty() {
        n.cpuset_cpus = req.cpuset_cpus.clone();
    }
    if !req.cpuset_mems.is_empty() {
        n.cpuset_mems = req.cpuset_mems.clone();
    }
    if req.memory != 0 {
        if req.memory > n.memory_swap && req.memory_swap == 0 {
            return Err(conflict(
                "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
            ));
        }
        n.memory = req.memory;
    }
    if req.memory_swap != 0 {
        n.memory_swap = req.memory_swap;
    }
    if req.memory_reservation != 0 {
        n.memory_reservation = req.memory_reservation;
    }
    if let Some(p) = req.pids_limit {
        // 0 and -1 both mean unlimited; dockerd stores 0.
        n.pids_limit = Some(p.max(0));
    }
    if let Some(p) = req.restart_policy.as_ref().filter(|p| !p.name.is_empty()) {
        if h.auto_remove && p.name != "no" {
            return Err(ApiError::invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        n.restart_policy = p.clone();
    }
    Ok(n)
}

/// The `linux.resources` a running container gets for HostConfig `h`
/// (memory, cpu, pids; the same mapping as the bundle's).
pub fn resources(h: &HostConfig) -> Result<oci_spec::runtime::LinuxResources, ApiError> {
    let mut r = serde_json::Map::new();
    if h.memory > 0 || h.memory_reservation > 0 {
        let mut m = serde_json::Map::new();
        if h.memory > 0 {
            m.insert("limit".into(), h.memory.into());
            m.insert("swap".into(), effective_swap(h).into());
        }
        if h.memory_reservation > 0 {
            m.insert("reservation".into(), h.memory_reservation.into());
        }
        r.insert("memory".into(), m.into());
    }
    let mut c = serde_json::Map::new();
    if h.cpu_shares > 0 {
        c.insert("shares".into(), h.cpu_shares.into());
    }
    if h.nano_cpus > 0 {
        c.insert("period".into(), NANO_PERIOD.into());
        c.insert(
            "quota".into(),
            (h.nano_cpus * NANO_PERIOD / 1_000_000_000).into(),
        );
    } else {
        if h.cpu_period > 0 {
            c.insert("period".into(), h.cpu_period.into());
        }
        if h.cpu_quota > 0 {
            c.insert("quota".into(), h.cpu_quota.into());
        }
    }
    if !h.cpuset_cpus.is_empty() {
        c.insert("cpus".into(), h.cpuset_cpus.clone().into());
    }
    if !h.cpuset_mems.is_empty() {
        c.insert("mems".into(), h.cpuset_mems.clone().into());
    }
    if !c.is_empty() {
        r.insert("cpu".into(), c.into());
    }
    if let Some(p) = h.pids_limit {
        let limit = if p > 0 { p } else { -1 };
        r.insert("pids".into(), serde_json::json!({ "limit": limit }));
    }
    serde_json::from_value(r.into()).map_err(|e| ApiError::system(format!("resources: {e}")))
}

/// Writes `h`'s resources to `c`'s cgroups. A memory limit the kernel
/// cannot reclaim down to (EBUSY) is runc's message with the usage.
fn apply(c: &Container, h: &HostConfig) -> Result<(), ApiError> {
    let fail = |m: String| ApiError::system(format!("Cannot update container {}: {m}", c.id));
    // runc's range checks (the kernel would clamp silently).
    if h.cpu_shares == 1 {
        return Err(fail("the minimum allowed cpu-shares is 2".into()));
    }
    if h.cpu_shares > 262_144 {
        return Err(fail("the maximum allowed cpu-shares is 262144".into()));
    }
    let res = resources(h)?;
    let cg = berth_cgroups::Cgroup::load(&crate::bundle::cgroups_path(&c.id), &c.id)
        .map_err(|e| fail(e.to_string()))?;
    cg.update(&res).map_err(|e| {
        if let berth_cgroups::Error::Write { path, source, .. } = &e {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if source.raw_os_error() == Some(nix::libc::EBUSY) && name == "memory.limit_in_bytes" {
                let st = cg.stats().unwrap_or_default();
                return fail(format!(
                    "unable to set memory limit to {} (current usage: {}, peak usage: {})",
                    h.memory, st.memory.usage, st.memory.max_usage
                ));
            }
        }
        fail(e.to_string())
    })
}

/// The whole update of container `c` (see the module docs).
pub async fn update(
    engine: &crate::Engine,
    c: &std::sync::Arc<Container>,
    req: ContainerUpdateRequest,
) -> Result<ContainerUpdateResponse, ApiError> {
    let warnings = validate(&req)?;
    let _g = c.op.lock().await;
    let rec = c.get();
    let new = merge(&c.id, &rec.host_config, &req)?;
    if rec.state.status.is_live() {
        if let Err(e) = apply(c, &new) {
            // Put back what was in force (best effort: the old values were
            // accepted before).
            if let Err(e2) = apply(c, &rec.host_config) {
                tracing::warn!("update {}: restoring resources: {e2:?}", c.id);
            }
            return Err(e);
        }
    }
    c.update(|r| r.host_config = new);
    engine.event(c, "update", &[]);
    Ok(ContainerUpdateResponse {
        warnings: (!warnings.is_empty()).then_some(warnings),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(j: &str) -> ContainerUpdateRequest {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn dockerd_checks() {
        let e = validate(&req(r#"{"Memory":1000}"#)).unwrap_err();
        assert_eq!(e.message, "Minimum memory limit allowed is 6MB");
        let e = validate(&req(r#"{"NanoCpus":500000000,"CpuQuota":1000}"#)).unwrap_err();
        assert_eq!(
            e.message,
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        let e = validate(&req(r#"{"CpusetCpus":"999"}"#)).unwrap_err();
        assert!(
            e.message
                .starts_with("Requested CPUs are not available - requested 999, available: "),
            "{}",
            e.message
        );
        let w = validate(&req(r#"{"KernelMemory":1000000000}"#)).unwrap();
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn merge_rules() {
        let h = HostConfig::default();
        // No limit set: memory alone conflicts with the (zero) memoryswap.
        let e = merge("x", &h, &req(r#"{"Memory":67108864}"#)).unwrap_err();
        assert_eq!(e.kind, berth_api::ErrorKind::Conflict);
        assert!(e
            .message
            .ends_with("update the memoryswap at the same time"));
        let n = merge(
            "x",
            &h,
            &req(r#"{"Memory":67108864,"MemorySwap":-1,"PidsLimit":-1}"#),
        )
        .unwrap();
        assert_eq!(
            (n.memory, n.memory_swap, n.pids_limit),
            (67108864, -1, Some(0))
        );
        // A 32m container has 64m memory+swap: 64m fits.
        let h = HostConfig {
            memory: 32 << 20,
            ..Default::default()
        };
        let n = merge("x", &h, &req(r#"{"Memory":67108864,"NanoCpus":500000000}"#)).unwrap();
        assert_eq!((n.memory, n.memory_swap), (64 << 20, 64 << 20));
        let e = merge("x", &n, &req(r#"{"CpuPeriod":50000}"#)).unwrap_err();
        assert!(e
            .message
            .contains("CPU Period cannot be updated as NanoCPUs has already been set"));
        let r = resources(&n).unwrap();
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(50_000), Some(100_000)));
    }
}
