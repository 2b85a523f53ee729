/* Container cpusets after CPUs come online (OnlineCPUMem), as upstream refreshes them: a container whose spec
 * pins no CPUs gets every online CPU; a pinned one keeps its set, but its ancestors are widened so the set stays
 * valid. On cgroup v1 a cpuset is a copy of its parent's taken at mkdir, so without this a hot-plugged CPU never
 * reaches a container; on v2 an empty cpuset.cpus follows its parent and is left alone. */
#pragma once

#include <stdbool.h>

#include "agent/agent.h"
#include "common/error.h"

/* Every container's cpuset; failures are logged per container. */
void cpusets_refresh(agent *a);

/* One cgroup: path ("/kata/c1") below the cpuset hierarchy mounted at mount, widened from the top down to cpus
 * (a cpu list, "0-3"). Levels whose cpuset.cpus is empty (v2: inherited) or already cpus are not written; the
 * leaf itself is kept when pinned. Returns how many files were written. */
int cpuset_widen_path(const char *mount, const char *path, bool pinned, const char *cpus, kc_error *err);
