/* _cleanup_ for json-c's objects, for the config.json reader and lcrun (host builds only: the guest has no
 * json-c). */
#pragma once

#include <json-c/json.h>

#include "common/macro.h"

DEFINE_CLEANUP_FUNC(json_tokener *, json_tokener_free)
DEFINE_CLEANUP_FUNC(json_object *, json_object_put)
