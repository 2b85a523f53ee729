/* poststart and poststop hooks in the loop (ctr-hooks.h). */
#define LOG_SOURCE "container"
#include "agent/ctr-hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "libcontainer-c/hooks.h"

typedef struct hook_chain {
	agent *agent;
	char what[300]; /* "container X poststart" */
	char *state;
	lc_hook_config *hooks;
	size_t n, next;
	lc_hook_run run;
	ev_io *io;
	ev_timer timer;
} hook_chain;

static void strv_free_n(char *const *v, size_t n) {
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free((void *)v);
}

static void chain_free(hook_chain *h) {
	for (size_t i = 0; i < h->n; i++) {
		free((char *)h->hooks[i].path);
		strv_free_n(h->hooks[i].args, h->hooks[i].n_args);
		strv_free_n(h->hooks[i].env, h->hooks[i].n_env);
	}
	free(h->hooks);
	free(h->state);
	free(h);
}

/* A NULL-terminated copy. */
static char **strv_copy(char *const *v, size_t n) {
	if (!v || n == 0)
		return NULL;
	char **c = calloc(n + 1, sizeof *c);
	for (size_t i = 0; c && i < n; i++)
		if (!(c[i] = strdup(v[i]))) {
			strv_free_n(c, i);
			return NULL;
		}
	return c;
}

static void run_next(hook_chain *h);

static void hook_done(hook_chain *h) {
	kc_error err = { 0 };
	/* Out of epoll before finish closes the pidfd: a forked helper may hold a copy of it, which would keep
	 * the registration (and its events) alive after the close. */
	h->io = ev_io_free(h->io);
	ev_timer_disarm(&h->timer);
	/* The pidfd is readable or the deadline passed: finish returns at once (a killed hook is reaped). */
	if (lc_hook_finish(&h->run, true, &err) < 0)
		log_warn("%s hook %zu: %s", h->what, h->next, err.msg);
	h->next++;
	run_next(h);
}

static int on_exit_fd(ev_io *io, int fd, uint32_t revents, void *userdata) {
	hook_done(userdata);
	return 0;
}

static void on_deadline(ev_timer *t, void *userdata) {
	hook_done(userdata);
}

static void run_next(hook_chain *h) {
	for (; h->next < h->n; h->next++) {
		kc_error err = { 0 };
		int r = lc_hook_spawn(&h->hooks[h->next], h->state, &h->run, &err);
		if (r < 0) {
			log_warn("%s hook %zu: %s", h->what, h->next, err.msg);
			continue;
		}
		r = ev_io_add(h->agent->loop, h->run.pidfd, EPOLLIN, on_exit_fd, h, "hook", &h->io);
		if (r >= 0)
			r = ev_timer_arm(&h->timer, h->run.deadline_ns);
		if (r >= 0)
			return;
		/* Cannot watch it: kill it now rather than wait in the loop (a deadline already past makes
		 * lc_hook_finish kill and reap it). */
		h->io = ev_io_free(h->io);
		h->run.deadline_ns = 0;
		if (lc_hook_finish(&h->run, true, &err) < 0)
			log_warn("%s hook %zu: %s", h->what, h->next, err.msg);
	}
	chain_free(h);
}

void ctr_hooks_run(agent *a, const lc_config *cfg, lc_hook_kind kind, const char *id, pid_t pid, const char *status) {
	size_t n = cfg ? cfg->n_hooks[kind] : 0;
	if (n == 0)
		return;
	hook_chain *h = calloc(1, sizeof *h);
	if (!h || !(h->hooks = calloc(n, sizeof *h->hooks)) ||
	    asprintf(&h->state, "{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"%s\",\"pid\":%d,\"bundle\":\"\"}",
		     id, status, (int)pid) < 0) {
		log_error("container %s: out of memory for its %s hooks", id, lc_hook_kind_name(kind));
		if (h)
			free(h->hooks);
		free(h);
		return;
	}
	h->agent = a;
	ev_timer_init(&h->timer, a->loop, on_deadline, h);
	(void)format_checked(h->what, sizeof h->what, "container %s %s", id, lc_hook_kind_name(kind));
	for (size_t i = 0; i < n; i++) {
		const lc_hook_config *src = &cfg->hooks[kind][i];
		lc_hook_config *dst = &h->hooks[h->n];
		dst->path = strdup(src->path);
		dst->args = strv_copy(src->args, src->n_args);
		dst->env = strv_copy(src->env, src->n_env);
		dst->n_args = dst->args ? src->n_args : 0;
		dst->n_env = dst->env ? src->n_env : 0;
		dst->timeout = src->timeout;
		h->n++;
		if (!dst->path || (src->n_args && !dst->args) || (src->n_env && !dst->env)) {
			log_error("%s: out of memory", h->what);
			chain_free(h);
			return;
		}
	}
	run_next(h);
}
