/* The lifecycle operations that go through a container's cgroup: pause and resume (the freezer), kill of
 * every process, the process list, update of resources and statistics. Each is a bounded step over the state
 * directory: the cgroup is joined by the path create recorded, never created here. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "common/util.h"
#include "libcontainer-c/container.h"
#include "libcontainer-c/state-internal.h"

/* How long pause waits for every task to freeze before it thaws them again and fails. */
#define LC_FREEZE_TIMEOUT_MS 5000

/* Loads the state of a container that is not stopped, and joins its cgroup. */
static int open_live(const char *root, const char *id, bool allow_stopped, lc_state **ret_state, lc_cgroup **ret_cg,
		     kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	int r = lc_state_load(root, id, &s, err);
	if (r < 0)
		return r;
	lc_state_check_paused(s);
	if (!allow_stopped && s->status == LC_STATUS_STOPPED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, ESRCH, "container `%s` is not running", id);
	r = lc_state_cgroup_open(s, ret_cg, err);
	if (r < 0)
		return r;
	*ret_state = TAKE_PTR(s);
	return 0;
}

int lc_container_pause(const char *root, const char *id, bool pause, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;

	int r = open_live(root, id, false, &s, &cg, err);
	if (r < 0)
		return r;
	if (pause && s->status != LC_STATUS_RUNNING)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EINVAL, "container `%s` is %s, not running: cannot pause it",
					 id, lc_status_name(s->status));
	if (!pause && s->status != LC_STATUS_PAUSED)
		return kc_error_set_code(err, KC_FAILED_PRECONDITION, EINVAL, "container `%s` is %s, not paused: cannot resume it",
					 id, lc_status_name(s->status));
	r = lc_cgroup_freeze(cg, pause, LC_FREEZE_TIMEOUT_MS, err);
	return r < 0 ? kc_error_prefix(err, "container `%s`", id) : 0;
}

int lc_container_kill_all(const char *root, const char *id, int sig, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;

	if (sig <= 0 || sig > SIGRTMAX)
		return kc_error_set(err, EINVAL, "invalid signal %d", sig);
	int r = open_live(root, id, false, &s, &cg, err);
	if (r < 0)
		return r;
	r = lc_cgroup_kill_all(cg, sig, err);
	return r < 0 ? kc_error_prefix(err, "container `%s`", id) : 0;
}

int lc_container_pids(const char *root, const char *id, pid_t **ret, size_t *ret_n, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;

	int r = open_live(root, id, true, &s, &cg, err);
	if (r < 0)
		return r;
	return lc_cgroup_pids(cg, true, ret, ret_n, err);
}

int lc_container_update(const char *root, const char *id, const lc_spec_resources *res, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;

	int r = open_live(root, id, false, &s, &cg, err);
	if (r < 0)
		return r;
	r = lc_cgroup_apply(cg, res, true, err);
	return r < 0 ? kc_error_prefix(err, "container `%s`: update", id) : 0;
}

int lc_container_stats(const char *root, const char *id, lc_cgroup_stats *ret, kc_error *err) {
	_cleanup_(lc_state_freep) lc_state *s = NULL;
	_cleanup_(lc_cgroup_freep) lc_cgroup *cg = NULL;

	int r = open_live(root, id, false, &s, &cg, err);
	if (r < 0)
		return r;
	return lc_cgroup_stats_read(cg, ret, err);
}
