/* Polling of watchable-bind storages: a timer, and a helper per round (see agent/watch.h). */
#define LOG_SOURCE "watch"
#include "agent/watch.h"

#include <string.h>

#include "agent/child.h"
#include "agent/storage-batch.h"
#include "common/log.h"
#include "common/util.h"
#include "storage/watch.h"

/* A round that takes longer than this is stuck on its share: killed, and the next tick tries again. */
#define WATCH_ROUND_TIMEOUT_MS 20000

struct agent_watch {
	agent *agent;
	ev_timer timer;
	pid_t helper; /* 0: no round running */
	bool kicked;  /* a storage came while a round ran, which may not have seen its record */
};

static int round_work(void *userdata, const stor_root *root, kc_error *err) {
	return stor_watch_poll(root, err);
}

static void arm(agent_watch *w) {
	(void)ev_timer_arm(&w->timer, now_ns() + (uint64_t)STOR_WATCH_INTERVAL_MS * 1000000);
}

static void round_done(int result, const kc_error *err, void *userdata) {
	agent_watch *w = userdata;
	w->helper = 0;
	if (result < 0)
		log_warn("watchable storages: %s", err->msg);
	/* Nothing left to poll: the timer rests until the next watchable storage. */
	if (result != 0 || w->kicked)
		arm(w);
}

static void on_tick(ev_timer *t, void *userdata) {
	agent_watch *w = userdata;
	if (w->helper)
		return;
	w->kicked = false;
	int r = storage_helper_run(w->agent, "watchable storages", round_work, w, WATCH_ROUND_TIMEOUT_MS, round_done, w);
	if (r < 0) {
		/* Helpers all busy: try at the next tick. */
		log_debug("watchable storages: no helper: %s", strerror(-r));
		arm(w);
		return;
	}
	w->helper = r;
}

void watch_kick(agent *a) {
	agent_watch *w = a->watch;
	if (!w) {
		w = calloc(1, sizeof *w);
		if (!w) {
			log_error("watchable storages: out of memory; not polled");
			return;
		}
		w->agent = a;
		ev_timer_init(&w->timer, a->loop, on_tick, w);
		a->watch = w;
	}
	w->kicked = true;
	if (!w->helper && !ev_timer_armed(&w->timer))
		arm(w);
}

void watch_free(agent *a) {
	agent_watch *w = a->watch;
	if (!w)
		return;
	ev_timer_disarm(&w->timer);
	if (w->helper)
		helper_abandon(a, w->helper);
	free(w);
	a->watch = NULL;
}
