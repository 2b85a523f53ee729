#include "agent/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

void agent_config_init(agent_config *c) {
	*c = (agent_config){
		.log_level = LOG_LVL_INFO,
		.hotplug_timeout_ms = 3000,
	};
	(void)format_checked(c->server_addr, sizeof c->server_addr, "%s", AGENT_DEFAULT_ADDR);
}

typedef int (*option_fn)(agent_config *c, const char *value, const char **why);

static int opt_log(agent_config *c, const char *v, const char **why) {
	int l = log_level_from_string(v);
	if (l < 0) {
		*why = "unknown log level";
		return -EINVAL;
	}
	c->log_level = l;
	return 0;
}

static int opt_server_addr(agent_config *c, const char *v, const char **why) {
	size_t n = strlen(v);
	if (n == 0 || n >= sizeof c->server_addr) {
		*why = "empty or too long";
		return -EINVAL;
	}
	memcpy(c->server_addr, v, n + 1);
	return 0;
}

/* Timeouts and sizes <= 0 are ignored (the reference agent's rule); the cap keeps arithmetic sane. */
static int parse_positive(const char *v, uint64_t max, uint64_t *ret, const char **why) {
	uint64_t n;
	if (parse_u64(v, 10, &n) < 0) {
		*why = "not a non-negative integer";
		return -EINVAL;
	}
	if (n == 0) {
		*why = "zero is ignored";
		return -EINVAL;
	}
	if (n > max) {
		*why = "too large";
		return -ERANGE;
	}
	*ret = n;
	return 0;
}

static int opt_hotplug_timeout(agent_config *c, const char *v, const char **why) {
	uint64_t n;
	int r = parse_positive(v, 3600, &n, why);
	if (r < 0)
		return r;
	c->hotplug_timeout_ms = (uint32_t)(n * 1000);
	return 0;
}

static int opt_pipe_size(agent_config *c, const char *v, const char **why) {
	uint64_t n;
	int r = parse_positive(v, 1u << 30, &n, why);
	if (r < 0)
		return r;
	c->container_pipe_size = (uint32_t)n;
	return 0;
}

static int opt_debug_console_vport(agent_config *c, const char *v, const char **why) {
	uint64_t n;
	int r = parse_positive(v, UINT32_MAX, &n, why);
	if (r < 0)
		return r;
	c->debug_console_vport = (uint32_t)n;
	return 0;
}

static int set_bool(bool *dst, const char *v, const char **why) {
	bool b;
	if (!v) { /* a bare flag */
		*dst = true;
		return 0;
	}
	if (parse_bool(v, &b) < 0) {
		*why = "not a boolean";
		return -EINVAL;
	}
	*dst = b;
	return 0;
}

static int opt_debug_console(agent_config *c, const char *v, const char **why) {
	return set_bool(&c->debug_console, v, why);
}

static int opt_devmode(agent_config *c, const char *v, const char **why) {
	return set_bool(&c->devmode, v, why);
}

static int opt_unified_cgroup(agent_config *c, const char *v, const char **why) {
	bool unified;
	if (!v) {
		*why = "needs a value";
		return -EINVAL;
	}
	int r = set_bool(&unified, v, why);
	if (r < 0)
		return r;
	c->cgroup_v1 = !unified;
	return 0;
}

/* Options the reference agent knows but this one does not act on yet: accepted silently so a runtime
 * that passes them (agent.trace=, agent.cdh_api_timeout=, ...) boots without warnings. */
static int opt_accepted(agent_config *c, const char *v, const char **why) {
	return 0;
}

static const struct {
	const char *key;
	bool takes_value; /* false: a bare flag, or key=bool */
	option_fn fn;
} options[] = {
	{ "agent.log", true, opt_log },
	{ "agent.server_addr", true, opt_server_addr },
	{ "agent.hotplug_timeout", true, opt_hotplug_timeout },
	{ "agent.container_pipe_size", true, opt_pipe_size },
	{ "agent.debug_console", false, opt_debug_console },
	{ "agent.debug_console_vport", true, opt_debug_console_vport },
	{ "agent.devmode", false, opt_devmode },
	{ "systemd.unified_cgroup_hierarchy", true, opt_unified_cgroup },
	{ "agent.trace", false, opt_accepted },
	{ "agent.log_vport", true, opt_accepted },
	{ "agent.passfd_listener_port", true, opt_accepted },
	{ "agent.cdh_api_timeout", true, opt_accepted },
	{ "agent.launch_process_timeout", true, opt_accepted },
	{ "agent.cdi_timeout", true, opt_accepted },
	{ "agent.image_pull_timeout", true, opt_accepted },
	{ "agent.visible_cdi_devices", true, opt_accepted },
};

static void apply_token(agent_config *c, char *tok, int *applied, agent_config_warn_fn warn, void *ud) {
	char *eq = strchr(tok, '=');
	const char *value = NULL;
	if (eq) {
		*eq = '\0';
		value = eq + 1;
	}
	for (size_t i = 0; i < ELEMENTSOF(options); i++) {
		if (strcmp(tok, options[i].key) != 0)
			continue;
		const char *why = NULL;
		if (options[i].takes_value && !value) {
			if (warn)
				warn(tok, "", "needs a value", ud);
			return;
		}
		if (options[i].fn(c, value, &why) < 0) {
			if (warn)
				warn(tok, value ? value : "", why ? why : "invalid", ud);
			return;
		}
		(*applied)++;
		return;
	}
	if (startswith(tok, "agent.") && warn)
		warn(tok, value ? value : "", "unknown option", ud);
}

int agent_config_parse_cmdline(agent_config *c, const char *cmdline, agent_config_warn_fn warn, void *userdata) {
	char buf[AGENT_CMDLINE_MAX + 1];
	size_t len = strnlen(cmdline, AGENT_CMDLINE_MAX + 1);
	int applied = 0;

	if (len > AGENT_CMDLINE_MAX)
		return -E2BIG;
	memcpy(buf, cmdline, len);
	buf[len] = '\0';

	/* Split on whitespace; double quotes group (the kernel allows key="a b"), and are removed. */
	char *p = buf;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		char *tok = p, *out = p;
		bool quoted = false;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '"')
				quoted = !quoted;
			else
				*out++ = *p;
			p++;
		}
		bool more = *p != '\0';
		*out = '\0';
		if (more)
			p++;
		apply_token(c, tok, &applied, warn, userdata);
	}
	return applied;
}

int agent_config_parse_env(agent_config *c, const char *(*getenv_fn)(const char *), kc_error *err) {
	const char *v;
	const char *why = NULL;

	if (!getenv_fn)
		getenv_fn = (const char *(*)(const char *))getenv;
	v = getenv_fn("KATA_AGENT_SERVER_ADDR");
	if (v && opt_server_addr(c, v, &why) < 0)
		return kc_error_set(err, EINVAL, "KATA_AGENT_SERVER_ADDR: %s", why);
	v = getenv_fn("KATA_AGENT_LOG_LEVEL");
	if (v && opt_log(c, v, &why) < 0)
		return kc_error_set(err, EINVAL, "KATA_AGENT_LOG_LEVEL `%s`: %s", v, why);
	return 0;
}

static void usage(FILE *f) {
	fprintf(f, "usage: kata-agent [--server-addr ADDR] [--log-level LEVEL] [--version]\n"
		   "  ADDR: vsock://CID:PORT (default " AGENT_DEFAULT_ADDR "), unix:///path, unix://@name,\n"
		   "        serial://PORTNAME (a virtio-serial port named PORTNAME, e.g. agent.channel.0)\n");
}

int agent_config_parse_args(agent_config *c, int argc, char **argv, kc_error *err) {
	static const struct option longopts[] = {
		{ "server-addr", required_argument, NULL, 'a' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *why = NULL;
	int o;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "a:l:Vh", longopts, NULL)) >= 0) {
		switch (o) {
		case 'a':
			if (opt_server_addr(c, optarg, &why) < 0)
				return kc_error_set(err, EINVAL, "--server-addr: %s", why);
			break;
		case 'l':
			if (opt_log(c, optarg, &why) < 0)
				return kc_error_set(err, EINVAL, "--log-level `%s`: %s", optarg, why);
			break;
		case 'V':
			printf("kata-agent version %s (api version: 0.0.1, type: c)\n", KC_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return kc_error_set(err, EINVAL, "unknown or incomplete option `%s`",
					   optind > 0 && optind <= argc ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc)
		return kc_error_set(err, EINVAL, "unexpected argument `%s`", argv[optind]);
	return 0;
}
