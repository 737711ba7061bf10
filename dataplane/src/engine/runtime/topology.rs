//! Placement: the CPUs the process may run on (its affinity mask, so taskset
//! and cgroups are respected) and how they share cores, L3 caches, NUMA nodes
//! and packages, read with hwloc (the `hwlocality` bindings). By default one
//! executor runs per physical core (SMT siblings skipped), the cores of one
//! NUMA node and L3 before the next, unless `nbthread` or `cpu-map` say
//! otherwise. When hwloc cannot load the topology, sysfs is read instead.

use std::collections::{BTreeMap, BTreeSet};

#[cfg(feature = "hwloc")]
use hwlocality::object::types::ObjectType;

/// Where executors run.
#[derive(Clone, Debug)]
pub struct Placement {
    /// The CPU of each executor.
    pub cpus: Vec<usize>,
    /// What the machine showed: one record per allowed CPU, by CPU number.
    pub topology: Vec<Cpu>,
}

/// One allowed CPU (hwloc PU) and where it sits in the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// OS index: the number taskset, `cpu-map` and sched_setaffinity use.
    pub cpu: usize,
    /// Physical core, unique across the machine (hwloc Core logical index);
    /// SMT siblings share it.
    pub core: usize,
    /// Package (socket) OS index.
    pub package: usize,
    /// NUMA node OS index (as numactl numbers it), if the machine shows one.
    pub numa: Option<usize>,
    /// Which L3 cache the CPU shares (hwloc L3 logical index), if any.
    pub l3: Option<usize>,
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

/// Read the allowed CPUs and their topology, then pick one CPU per physical
/// core (or `nbthread` CPUs). Never fails: without hwloc it reads sysfs, and
/// with nothing readable it runs one executor on CPU 0.
pub fn placement(nbthread: Option<u32>) -> Placement {
    let affinity: Option<BTreeSet<usize>> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .filter(|ids: &BTreeSet<usize>| !ids.is_empty());
    #[cfg(feature = "hwloc")]
    let topology = match from_hwloc(affinity.as_ref()) {
        Ok(t) => t,
        Err(e) => {
            crate::stderr_line!(
                "[WARNING] hwloc: {e}; reading the CPU topology from sysfs instead"
            );
            from_sysfs(affinity.as_ref())
        }
    };
    // Built without hwloc (the `hwloc` feature): sysfs only.
    #[cfg(not(feature = "hwloc"))]
    let topology = from_sysfs(affinity.as_ref());
    let cpus = choose(&topology, nbthread);
    Placement { cpus, topology }
}

/// Why hwloc's view of the machine was not used.
#[cfg(feature = "hwloc")]
#[derive(Debug)]
enum HwlocFailure {
    Load(hwlocality::errors::RawHwlocError),
    InfiniteCpuset,
    NoAllowedCpu,
}

#[cfg(feature = "hwloc")]
impl std::fmt::Display for HwlocFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(e) => write!(f, "cannot load the topology ({e})"),
            Self::InfiniteCpuset => f.write_str("the topology's allowed cpuset is unbounded"),
            Self::NoAllowedCpu => {
                f.write_str("no CPU of the affinity mask is in the topology's allowed cpuset")
            }
        }
    }
}

/// The allowed CPUs as hwloc sees them: the affinity mask (all of the
/// topology when unknown) intersected with the topology's allowed cpuset.
#[cfg(feature = "hwloc")]
fn from_hwloc(affinity: Option<&BTreeSet<usize>>) -> Result<Vec<Cpu>, HwlocFailure> {
    let topo = hwlocality::Topology::new().map_err(HwlocFailure::Load)?;
    let allowed_set = topo.allowed_cpuset();
    if allowed_set.weight().is_none() {
        return Err(HwlocFailure::InfiniteCpuset);
    }
    let allowed: BTreeSet<usize> = allowed_set
        .iter_set()
        .map(usize::from)
        .filter(|c| affinity.is_none_or(|a| a.contains(c)))
        .collect();
    // NUMA nodes are memory children in hwloc 2, not ancestors of PUs: find
    // each CPU's node through the nodes' cpusets.
    let mut numa_of: BTreeMap<usize, usize> = BTreeMap::new();
    for node in topo.objects_with_type(ObjectType::NUMANode) {
        let (Some(os), Some(set)) = (node.os_index(), node.cpuset()) else {
            continue;
        };
        if set.weight().is_none() {
            continue;
        }
        for c in set.iter_set() {
            numa_of.entry(usize::from(c)).or_insert(os);
        }
    }
    let cores = topo.objects_with_type(ObjectType::Core).len();
    let mut cpus: Vec<Cpu> = topo
        .objects_with_type(ObjectType::PU)
        .filter_map(|pu| {
            let cpu = pu.os_index().filter(|c| allowed.contains(c))?;
            let core = pu
                .first_ancestor_with_type(ObjectType::Core)
                .map(hwlocality::object::TopologyObject::logical_index)
                // No Core objects (some virtual machines): each PU is its
                // own core, numbered past the real ones to stay unique.
                .unwrap_or_else(|| cores.saturating_add(pu.logical_index()));
            let package = pu
                .first_ancestor_with_type(ObjectType::Package)
                .and_then(hwlocality::object::TopologyObject::os_index)
                .unwrap_or(0);
            let l3 = pu
                .first_ancestor_with_type(ObjectType::L3Cache)
                .map(hwlocality::object::TopologyObject::logical_index);
            Some(Cpu {
                cpu,
                core,
                package,
                numa: numa_of.get(&cpu).copied(),
                l3,
            })
        })
        .collect();
    if cpus.is_empty() {
        return Err(HwlocFailure::NoAllowedCpu);
    }
    cpus.sort_by_key(|c| c.cpu);
    Ok(cpus)
}

fn read_usize(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The allowed CPUs as /sys/devices/system/cpu shows them, for when hwloc
/// cannot load the topology.
fn from_sysfs(affinity: Option<&BTreeSet<usize>>) -> Vec<Cpu> {
    let allowed: Vec<usize> = affinity
        .map(|a| a.iter().copied().collect())
        .unwrap_or_default();
    // sysfs core ids are per package: number the (package, core id) pairs
    // so that `core` is unique across the machine, as hwloc's is.
    let raw: Vec<(usize, usize, usize)> = allowed
        .iter()
        .map(|&cpu| {
            let dir = format!("/sys/devices/system/cpu/cpu{cpu}");
            let core = read_usize(&format!("{dir}/topology/core_id")).unwrap_or(cpu);
            let package = read_usize(&format!("{dir}/topology/physical_package_id")).unwrap_or(0);
            (cpu, package, core)
        })
        .collect();
    let pairs: BTreeSet<(usize, usize)> = raw.iter().map(|&(_, p, c)| (p, c)).collect();
    let dense: BTreeMap<(usize, usize), usize> =
        pairs.into_iter().enumerate().map(|(i, k)| (k, i)).collect();
    raw.into_iter()
        .map(|(cpu, package, core_id)| {
            let dir = format!("/sys/devices/system/cpu/cpu{cpu}");
            Cpu {
                cpu,
                core: dense.get(&(package, core_id)).copied().unwrap_or(cpu),
                package,
                numa: sysfs_numa(&dir),
                l3: sysfs_l3(&dir),
            }
        })
        .collect()
}

/// The `nodeN` entry of a sysfs CPU directory.
fn sysfs_numa(dir: &str) -> Option<usize> {
    std::fs::read_dir(dir).ok()?.find_map(|e| {
        let name = e.ok()?.file_name();
        name.to_str()?.strip_prefix("node")?.parse().ok()
    })
}

/// The id of the level-3 cache among a sysfs CPU's caches.
fn sysfs_l3(dir: &str) -> Option<usize> {
    std::fs::read_dir(format!("{dir}/cache"))
        .ok()?
        .find_map(|e| {
            let path = e.ok()?.path();
            let path = path.to_str()?;
            if read_usize(&format!("{path}/level"))? == 3 {
                read_usize(&format!("{path}/id"))
            } else {
                None
            }
        })
}

/// The CPU of each executor, from the allowed CPUs' topology. Cores are
/// ordered package, NUMA node, L3, core, so a small `nbthread` stays on one
/// L3. Without `nbthread` (or with 0): the first CPU of each physical core.
/// With `nbthread`: those, then the second SMT sibling of each core, and so
/// on, wrapping around when threads outnumber CPUs.
fn choose(topology: &[Cpu], nbthread: Option<u32>) -> Vec<usize> {
    // The SMT rank of each CPU within its core: 0 for the lowest CPU number.
    let mut by_cpu: Vec<&Cpu> = topology.iter().collect();
    by_cpu.sort_by_key(|c| c.cpu);
    let mut siblings_seen: BTreeMap<usize, usize> = BTreeMap::new();
    let mut ranked: Vec<(usize, &Cpu)> = by_cpu
        .into_iter()
        .map(|c| {
            let seen = siblings_seen.entry(c.core).or_insert(0);
            let rank = *seen;
            *seen += 1;
            (rank, c)
        })
        .collect();
    ranked.sort_by_key(|&(rank, c)| (rank, c.package, c.numa, c.l3, c.core, c.cpu));
    let order: Vec<usize> = ranked.iter().map(|(_, c)| c.cpu).collect();
    if order.is_empty() {
        return vec![0];
    }
    match nbthread.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if n > 0 => order.iter().copied().cycle().take(n).collect(),
        _ => ranked
            .iter()
            .filter(|&&(rank, _)| rank == 0)
            .map(|(_, c)| c.cpu)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(cpu: usize, core: usize, package: usize, numa: usize, l3: usize) -> Cpu {
        Cpu {
            cpu,
            core,
            package,
            numa: Some(numa),
            l3: Some(l3),
        }
    }

    /// 2 packages x 2 NUMA nodes (one L3 each) x 2 cores x 2 SMT threads,
    /// numbered as Linux often does: siblings are `n` and `n + 8`, and the
    /// CPUs of one node are not contiguous (0,2 on node 0; 1,3 on node 1).
    fn two_sockets() -> Vec<Cpu> {
        let mut t = Vec::new();
        // (first sibling, core, package, node/L3)
        for (first, core, package, node) in [
            (0, 0, 0, 0),
            (2, 1, 0, 0),
            (1, 2, 0, 1),
            (3, 3, 0, 1),
            (4, 4, 1, 2),
            (6, 5, 1, 2),
            (5, 6, 1, 3),
            (7, 7, 1, 3),
        ] {
            t.push(cpu(first, core, package, node, node));
            t.push(cpu(first + 8, core, package, node, node));
        }
        t.sort_by_key(|c| c.cpu);
        t
    }

    #[test]
    fn topology_default_is_one_cpu_per_core_filling_a_node_first() {
        assert_eq!(choose(&two_sockets(), None), [0, 2, 1, 3, 4, 6, 5, 7]);
        assert_eq!(choose(&two_sockets(), Some(0)), [0, 2, 1, 3, 4, 6, 5, 7]);
    }

    #[test]
    fn topology_small_nbthread_stays_on_one_l3() {
        let t = two_sockets();
        let chosen = choose(&t, Some(2));
        assert_eq!(chosen, [0, 2]);
        let l3: BTreeSet<Option<usize>> = chosen
            .iter()
            .filter_map(|c| t.iter().find(|x| x.cpu == *c))
            .map(|x| x.l3)
            .collect();
        assert_eq!(l3.len(), 1);
    }

    #[test]
    fn topology_nbthread_beyond_cores_uses_siblings_then_wraps() {
        let t = two_sockets();
        let chosen = choose(&t, Some(18));
        assert_eq!(
            chosen,
            [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15, 0, 2]
        );
    }

    #[test]
    fn topology_single_core_box() {
        let t = [Cpu {
            cpu: 0,
            core: 0,
            package: 0,
            numa: None,
            l3: None,
        }];
        assert_eq!(choose(&t, None), [0]);
        assert_eq!(choose(&t, Some(3)), [0, 0, 0]);
    }

    #[test]
    fn topology_single_core_with_smt_and_nbthread_beyond_cpus() {
        let t = [cpu(0, 0, 0, 0, 0), cpu(1, 0, 0, 0, 0)];
        assert_eq!(choose(&t, None), [0]);
        assert_eq!(choose(&t, Some(5)), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn topology_empty_runs_on_cpu_zero() {
        assert_eq!(choose(&[], None), [0]);
        assert_eq!(choose(&[], Some(4)), [0]);
    }

    #[test]
    fn topology_restricted_affinity_keeps_only_allowed_siblings() {
        // taskset -c 8,2,10: core 0 through its second sibling only.
        let t: Vec<Cpu> = two_sockets()
            .into_iter()
            .filter(|c| [2, 8, 10].contains(&c.cpu))
            .collect();
        assert_eq!(choose(&t, None), [8, 2]);
        assert_eq!(choose(&t, Some(3)), [8, 2, 10]);
    }

    /// Without hwloc, sysfs gives the same CPUs, the same physical cores
    /// and so the same default placement on this machine.
    #[cfg(feature = "hwloc")]
    #[test]
    fn topology_from_sysfs_agrees_with_hwloc() {
        let affinity: BTreeSet<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let hw = from_hwloc(Some(&affinity)).unwrap_or_else(|e| panic!("hwloc: {e}"));
        let fs = from_sysfs(Some(&affinity));
        let cpus = |t: &[Cpu]| t.iter().map(|c| c.cpu).collect::<Vec<_>>();
        assert_eq!(cpus(&hw), cpus(&fs));
        let cores = |t: &[Cpu]| t.iter().map(|c| c.core).collect::<BTreeSet<_>>().len();
        assert_eq!(cores(&hw), cores(&fs));
        assert_eq!(choose(&hw, None).len(), choose(&fs, None).len());
    }

    #[cfg(feature = "hwloc")]
    #[test]
    fn topology_of_this_machine_loads_with_hwloc_and_holds_the_affinity_mask() {
        let affinity: BTreeSet<usize> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert!(!affinity.is_empty());
        let t = match from_hwloc(Some(&affinity)) {
            Ok(t) => t,
            Err(e) => panic!("hwloc: {e}"),
        };
        let seen: BTreeSet<usize> = t.iter().map(|c| c.cpu).collect();
        assert_eq!(seen, affinity);
        // Every CPU is on a core, and the default placement covers each core once.
        let cores: BTreeSet<usize> = t.iter().map(|c| c.core).collect();
        let chosen = choose(&t, None);
        assert_eq!(chosen.len(), cores.len());
        assert!(chosen.iter().all(|c| affinity.contains(c)));
    }
}
