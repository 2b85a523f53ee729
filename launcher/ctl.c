/* kata-launch ctl, stop and mux: the client side of the API socket. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "launcher/cli.h"
#include "launcher/json.h"
#include "launcher/methods.h"
#include "launcher/mux.h"
#include "launcher/state.h"
#include "launcher/ttrpc-client.h"
#include "proto/frame.h"

#define NSEC_PER_SEC 1000000000LL

/* A VM name, or an address/path of any ttRPC endpoint (a standalone agent too). */
static int resolve_target(const char *target, char *buf, size_t size) {
	if (startswith(target, "unix://") || strchr(target, '/') || target[0] == '@')
		return format_checked(buf, size, "%s", target);
	char dir[PATH_MAX];
	int r = state_dir_path(target, dir, sizeof dir);
	if (r < 0)
		return r;
	return state_path(dir, "api.sock", buf, size);
}

static void message_freep(ProtobufCMessage **m) {
	if (*m)
		protobuf_c_message_free_unpacked(*m, NULL);
}

static void ctl_usage(FILE *f) {
	fputs("usage: kata-launch ctl [--timeout SEC] [--defaults] TARGET METHOD [JSON]\n"
	      "  TARGET  a VM name, unix:///path, unix://@abstract or a socket path\n"
	      "  METHOD  Check, Version, any AgentService method, or Service/Method\n"
	      "  JSON    the request (default {}); proto or lowerCamelCase field names\n",
	      f);
}

int cmd_ctl(int argc, char **argv) {
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "defaults", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint64_t timeout_s = 60;
	int flags = 0, c, r;

	while ((c = getopt_long(argc, argv, "t:dh", longopts, NULL)) >= 0) {
		switch (c) {
		case 't':
			if (parse_u64(optarg, 10, &timeout_s) < 0 || timeout_s > 86400) {
				fprintf(stderr, "kata-launch ctl: invalid --timeout `%s`\n", optarg);
				return 2;
			}
			break;
		case 'd': flags |= PBJSON_EMIT_DEFAULTS; break;
		case 'h': ctl_usage(stdout); return 0;
		default: ctl_usage(stderr); return 2;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		ctl_usage(stderr);
		return 2;
	}
	const char *target = argv[optind], *method_name = argv[optind + 1];
	const char *json = argc - optind == 3 ? argv[optind + 2] : "{}";

	rpc_method m;
	if (rpc_method_find(method_name, &m) < 0) {
		fprintf(stderr, "kata-launch ctl: unknown method `%s`\n", method_name);
		return 2;
	}
	kc_error err = {};
	_cleanup_(message_freep) ProtobufCMessage *req = NULL;
	r = pbjson_parse_message(m.desc->input, json, &req, &err);
	if (r < 0) {
		fprintf(stderr, "kata-launch ctl: request for %s: %s\n", m.desc->name, err.msg[0] ? err.msg : strerror(-r));
		return 2;
	}

	char addr[PATH_MAX];
	r = resolve_target(target, addr, sizeof addr);
	if (r < 0) {
		fprintf(stderr, "kata-launch ctl: invalid target `%s`\n", target);
		return 2;
	}
	_cleanup_(ttrpc_client_freep) ttrpc_client *cl = NULL;
	r = ttrpc_client_connect(addr, &cl);
	if (r < 0) {
		fprintf(stderr, "kata-launch ctl: cannot connect to %s: %s%s\n", addr, strerror(-r),
			r == -ENOENT || r == -ECONNREFUSED ? " (is the VM running?)" : "");
		return 1;
	}

	_cleanup_(message_freep) ProtobufCMessage *resp = NULL;
	_cleanup_free_ char *msg = NULL;
	int code;
	r = ttrpc_client_call(cl, m.service, m.desc->name, req, m.desc->output, (int64_t)timeout_s * NSEC_PER_SEC,
			      &resp, &code, &msg);
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "error: DEADLINE_EXCEEDED: no response within %llu s\n", (unsigned long long)timeout_s);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "kata-launch ctl: %s/%s: %s\n", m.service, m.desc->name,
			r == -EPIPE ? "connection closed before the response" : strerror(-r));
		return 1;
	}
	if (code != 0) {
		fprintf(stderr, "error: %s: %s\n", ttrpc_code_name(code), msg ? msg : "");
		return 1;
	}
	struct json_object *out = NULL;
	r = pbjson_from_message(resp, flags, &out);
	if (r < 0) {
		fprintf(stderr, "kata-launch ctl: formatting the response: %s\n", strerror(-r));
		return 1;
	}
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return 0;
}

static void sleep_ms(unsigned ms) {
	(void)nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L }, NULL);
}

/* Polls until no daemon holds dir's lock; true when that happened within timeout_ms. */
static bool wait_not_live(const char *dir, unsigned timeout_ms) {
	for (unsigned waited = 0; waited < timeout_ms; waited += 50) {
		if (!state_is_live(dir))
			return true;
		sleep_ms(50);
	}
	return !state_is_live(dir);
}

/* DestroySandbox makes the agent power the guest off; -no-reboot turns that into QEMU's exit, which ends
 * the daemon. A connection closed before the reply is the same success seen from the other side. */
static void destroy_sandbox(const char *dir) {
	char api[PATH_MAX];
	_cleanup_(ttrpc_client_freep) ttrpc_client *cl = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t out_len;
	int code = 0;

	if (state_path(dir, "api.sock", api, sizeof api) < 0 || ttrpc_client_connect(api, &cl) < 0) {
		fprintf(stderr, "kata-launch stop: cannot reach the API socket; stopping QEMU instead\n");
		return;
	}
	int r = ttrpc_client_call_raw(cl, "grpc.AgentService", "DestroySandbox", NULL, 0, 10 * NSEC_PER_SEC, &out,
				      &out_len, &code, &msg);
	if (r < 0 && r != -EPIPE)
		fprintf(stderr, "kata-launch stop: DestroySandbox: %s\n", strerror(-r));
	else if (r >= 0 && code != 0)
		fprintf(stderr, "kata-launch stop: DestroySandbox: %s: %s\n", ttrpc_code_name(code), msg ? msg : "");
}

int cmd_stop(int argc, char **argv) {
	const char *name = argc > 1 ? argv[1] : "default";
	unsigned timeout_ms = 20000;
	char dir[PATH_MAX];
	pid_t pid;

	if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
		fputs("usage: kata-launch stop [NAME]\n", argc > 1 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (state_dir_path(name, dir, sizeof dir) < 0) {
		fprintf(stderr, "kata-launch stop: invalid name `%s`\n", name);
		return 2;
	}
	if (access(dir, F_OK) < 0) {
		fprintf(stderr, "kata-launch stop: no VM named `%s` (%s)\n", name, dir);
		return 1;
	}
	if (state_is_live(dir)) {
		destroy_sandbox(dir);
		if (!wait_not_live(dir, timeout_ms)) {
			fprintf(stderr, "kata-launch stop: QEMU still running after %u s; killing it\n", timeout_ms / 1000);
			if (state_read_pid(dir, "qemu.pid", &pid) >= 0)
				(void)kill(pid, SIGKILL);
			if (!wait_not_live(dir, 5000) && state_read_pid(dir, "pid", &pid) >= 0) {
				(void)kill(pid, SIGKILL);
				(void)wait_not_live(dir, 2000);
			}
		}
	} else
		fprintf(stderr, "kata-launch stop: `%s` was not running; removing its state\n", name);
	int r = state_clean(dir, true);
	if (r < 0) {
		fprintf(stderr, "kata-launch stop: removing %s: %s\n", dir, strerror(-r));
		return 1;
	}
	return 0;
}

static void mux_ready(void *userdata, uint64_t elapsed_ns) {
	printf("ready in %.3f s, api %s\n", (double)elapsed_ns / 1e9, (const char *)userdata);
	fflush(stdout);
}

int cmd_mux(int argc, char **argv) {
	if (argc != 3) {
		fputs("usage: kata-launch mux AGENT_ADDRESS API_SOCKET_PATH\n", stderr);
		return 2;
	}
	mux_config mc = { .agent_address = argv[1], .api_path = argv[2], .start_ns = now_ns(),
			  .ready_timeout_ns = 30 * NSEC_PER_SEC, .on_ready = mux_ready, .userdata = argv[2] };
	mux_result res = {};
	int r = mux_run(&mc, &res);
	if (r < 0) {
		fprintf(stderr, "kata-launch mux: %s\n", strerror(-r));
		return 1;
	}
	if (!res.ready) {
		fprintf(stderr, "kata-launch mux: the agent at %s did not answer SERVING\n", argv[1]);
		return 1;
	}
	return 0;
}
