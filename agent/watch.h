/* The agent's side of watchable-bind storages (storage/watch.h): a timer in the loop that, every 2 s while any
 * storage is polled, runs one round of mirroring in a helper, so a share that stops answering holds up that
 * helper and never the loop. */
#pragma once

#include "agent/agent.h"

/* A watchable storage was mounted: polling starts (or goes on). */
void watch_kick(agent *a);
void watch_free(agent *a);
