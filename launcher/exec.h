/* What `kata-launch exec` starts from: the process of the container as it was created. `kata-launch run` keeps
 * it in the VM's state directory (process.CID, a packed grpc.Process, owner-only since the environment may hold
 * secrets) before CreateContainer, so an exec that finds the container finds its record too. */
#pragma once

#include "oci.pb-c.h"

/* Writes dir/process.CID atomically (a temporary file renamed into place). */
int exec_record_save(const char *dir, const char *container_id, const Grpc__Process *p);
