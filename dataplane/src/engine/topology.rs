//! Placement: the cores the process may run on (its affinity mask, so
//! taskset and cgroups are respected), one executor per physical core
//! (SMT siblings skipped), unless `nbthread` or `cpu-map` say otherwise.

/// Where executors run.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The CPU of each executor.
    pub cpus: Vec<usize>,
    /// What the machine showed: (cpu, core id, package id) of allowed CPUs.
    pub topology: Vec<(usize, u32, u32)>,
}

fn read_u32(path: &str) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Apply `cpu-map` lines to a placement: thread `n` (1-based) runs on the
/// first CPU of the line whose thread set holds it (`auto:` lines hand the
/// listed CPUs to their threads one by one, in order).
pub fn apply_cpu_map(placement: &mut Placement, maps: &[ringlb_config::model::global::CpuMap]) {
    for (i, cpu) in placement.cpus.iter_mut().enumerate() {
        let Ok(bit) = u32::try_from(i) else { continue };
        let Some(mask) = 1u64.checked_shl(bit) else {
            continue;
        };
        for m in maps.iter().filter(|m| m.threads & mask != 0) {
            let chosen = if m.auto {
                // The rank of this thread among the line's threads.
                let rank = (m.threads & (mask - 1)).count_ones();
                usize::try_from(rank).ok().and_then(|r| m.cpus.get(r))
            } else {
                m.cpus.first()
            };
            if let Some(c) = chosen {
                *cpu = usize::from(*c);
            }
        }
    }
}

/// Read the allowed CPUs and their physical cores, pick one CPU per
/// physical core (or `nbthread` CPUs).
pub fn placement(nbthread: Option<u32>) -> Placement {
    let allowed: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let topology: Vec<(usize, u32, u32)> = allowed
        .iter()
        .map(|&cpu| {
            let core = read_u32(&format!(
                "/sys/devices/system/cpu/cpu{cpu}/topology/core_id"
            ))
            .unwrap_or(u32::try_from(cpu).unwrap_or(0));
            let pkg = read_u32(&format!(
                "/sys/devices/system/cpu/cpu{cpu}/topology/physical_package_id"
            ))
            .unwrap_or(0);
            (cpu, core, pkg)
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut physical: Vec<usize> = topology
        .iter()
        .filter(|(_, core, pkg)| seen.insert((*pkg, *core)))
        .map(|(cpu, _, _)| *cpu)
        .collect();
    if physical.is_empty() {
        physical.push(0);
    }
    let cpus = match nbthread.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => {
            // More threads than physical cores: use SMT siblings, then wrap.
            let pool: Vec<usize> = if n <= physical.len() {
                physical.clone()
            } else {
                allowed.clone()
            };
            (0..n)
                .filter_map(|i| pool.get(i % pool.len().max(1)).copied())
                .collect()
        }
        _ => physical,
    };
    Placement { cpus, topology }
}
