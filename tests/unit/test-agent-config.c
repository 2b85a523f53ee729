/* The agent's configuration: kernel command line, environment and flags; and server address parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "agent/transport.h"
#include "common/log.h"

static int n_warnings;
static char last_warning[256];

static void warn(const char *key, const char *value, const char *why, void *ud) {
	n_warnings++;
	snprintf(last_warning, sizeof last_warning, "%s=%s: %s", key, value, why);
}

static int parse(agent_config *c, const char *line) {
	n_warnings = 0;
	last_warning[0] = '\0';
	agent_config_init(c);
	return agent_config_parse_cmdline(c, line, warn, NULL);
}

static void test_defaults(void **state) {
	agent_config c;
	assert_int_equal(parse(&c, ""), 0);
	assert_string_equal(c.server_addr, "vsock://-1:1024");
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_int_equal(c.hotplug_timeout_ms, 3000);
	assert_false(c.debug_console);
	assert_false(c.cgroup_v1);
}

static void test_typical_line(void **state) {
	agent_config c;
	int n = parse(&c, "console=ttyS0 quiet panic=1 agent.log=debug agent.server_addr=serial://agent.channel.0 "
			  "agent.hotplug_timeout=7 agent.container_pipe_size=65536 agent.debug_console "
			  "agent.debug_console_vport=1026 systemd.unified_cgroup_hierarchy=0\n");
	assert_int_equal(n, 7);
	assert_int_equal(n_warnings, 0);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	assert_string_equal(c.server_addr, "serial://agent.channel.0");
	assert_int_equal(c.hotplug_timeout_ms, 7000);
	assert_int_equal(c.container_pipe_size, 65536);
	assert_true(c.debug_console);
	assert_int_equal(c.debug_console_vport, 1026);
	assert_true(c.cgroup_v1);
}

static void test_bad_values_are_ignored(void **state) {
	agent_config c;
	assert_int_equal(parse(&c, "agent.log=loud"), 0);
	assert_int_equal(n_warnings, 1);
	assert_int_equal(c.log_level, LOG_LVL_INFO);
	assert_non_null(strstr(last_warning, "agent.log=loud"));

	assert_int_equal(parse(&c, "agent.hotplug_timeout=0 agent.hotplug_timeout=-3 agent.hotplug_timeout=abc"), 0);
	assert_int_equal(n_warnings, 3);
	assert_int_equal(c.hotplug_timeout_ms, 3000);

	assert_int_equal(parse(&c, "agent.server_addr agent.server_addr= agent.nonsense=1 other.option=1"), 0);
	assert_int_equal(n_warnings, 3);
	assert_string_equal(c.server_addr, "vsock://-1:1024");

	assert_int_equal(parse(&c, "agent.debug_console=maybe"), 0);
	assert_false(c.debug_console);
	assert_int_equal(parse(&c, "agent.debug_console=0 agent.devmode=true"), 2);
	assert_false(c.debug_console);
	assert_true(c.devmode);
}

static void test_quotes_and_whitespace(void **state) {
	agent_config c;
	assert_int_equal(parse(&c, "  \t agent.server_addr=\"unix:///run/a b.sock\"   agent.log=\"trace\"  "), 2);
	assert_string_equal(c.server_addr, "unix:///run/a b.sock");
	assert_int_equal(c.log_level, LOG_LVL_TRACE);
	/* An unterminated quote runs to the end of the line; it must not crash or read past it. */
	assert_int_equal(parse(&c, "agent.log=\"debug"), 1);
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);
	/* The last occurrence wins. */
	assert_int_equal(parse(&c, "agent.log=debug agent.log=error"), 2);
	assert_int_equal(c.log_level, LOG_LVL_ERROR);
}

static void test_limits(void **state) {
	agent_config c;
	char big[AGENT_CMDLINE_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(parse(&c, big), -E2BIG);

	char addr[AGENT_ADDR_MAX + 40];
	snprintf(addr, sizeof addr, "agent.server_addr=unix:///%0*d", AGENT_ADDR_MAX, 0);
	assert_int_equal(parse(&c, addr), 0);
	assert_int_equal(n_warnings, 1);
	assert_string_equal(c.server_addr, "vsock://-1:1024");
}

static const char *fake_env(const char *k) {
	if (strcmp(k, "KATA_AGENT_SERVER_ADDR") == 0)
		return "unix://@kata";
	if (strcmp(k, "KATA_AGENT_LOG_LEVEL") == 0)
		return "warn";
	return NULL;
}

static const char *bad_env(const char *k) {
	return strcmp(k, "KATA_AGENT_LOG_LEVEL") == 0 ? "verbose" : NULL;
}

static void test_env_and_args(void **state) {
	agent_config c;
	kc_error err = { 0 };
	agent_config_init(&c);
	assert_int_equal(agent_config_parse_env(&c, fake_env, &err), 0);
	assert_string_equal(c.server_addr, "unix://@kata");
	assert_int_equal(c.log_level, LOG_LVL_WARN);
	assert_true(agent_config_parse_env(&c, bad_env, &err) < 0);
	assert_non_null(strstr(err.msg, "KATA_AGENT_LOG_LEVEL"));

	char *argv[] = { "kata-agent", "--server-addr", "unix:///tmp/x.sock", "--log-level", "debug", NULL };
	assert_int_equal(agent_config_parse_args(&c, 5, argv, &err), 0);
	assert_string_equal(c.server_addr, "unix:///tmp/x.sock");
	assert_int_equal(c.log_level, LOG_LVL_DEBUG);

	char *bad[] = { "kata-agent", "--bogus", NULL };
	assert_true(agent_config_parse_args(&c, 2, bad, &err) < 0);
	assert_non_null(strstr(err.msg, "--bogus"));
	char *extra[] = { "kata-agent", "stray", NULL };
	assert_true(agent_config_parse_args(&c, 2, extra, &err) < 0);
	assert_non_null(strstr(err.msg, "stray"));
}

static void test_addresses(void **state) {
	agent_addr a;
	kc_error err = { 0 };
	assert_int_equal(agent_addr_parse("vsock://-1:1024", &a, &err), 0);
	assert_int_equal(a.kind, AGENT_ADDR_VSOCK);
	assert_int_equal(a.cid, 0xFFFFFFFFu);
	assert_int_equal(a.port, 1024);
	assert_int_equal(agent_addr_parse("vsock://3:5000", &a, &err), 0);
	assert_int_equal(a.cid, 3);
	assert_int_equal(agent_addr_parse("unix:///run/agent.sock", &a, &err), 0);
	assert_int_equal(a.kind, AGENT_ADDR_UNIX);
	assert_false(a.abstract);
	assert_string_equal(a.path, "/run/agent.sock");
	assert_int_equal(agent_addr_parse("unix://@kata-agent", &a, &err), 0);
	assert_true(a.abstract);
	assert_string_equal(a.path, "kata-agent");
	assert_int_equal(agent_addr_parse("serial://agent.channel.0", &a, &err), 0);
	assert_int_equal(a.kind, AGENT_ADDR_SERIAL);
	assert_string_equal(a.port_name, "agent.channel.0");

	const char *bad[] = { "vsock://", "vsock://1", "vsock://x:1", "vsock://1:x", "vsock://-2:1", "vsock://1:99999999999",
			      "unix://", "unix://relative", "unix://@", "serial://", "serial://../x", "tcp://1.2.3.4:1", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err.msg[0] = '\0';
		assert_true(agent_addr_parse(bad[i], &a, &err) < 0);
		assert_true(err.msg[0] != '\0');
	}
}

int main(void) {
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),     cmocka_unit_test(test_typical_line),
		cmocka_unit_test(test_bad_values_are_ignored), cmocka_unit_test(test_quotes_and_whitespace),
		cmocka_unit_test(test_limits),       cmocka_unit_test(test_env_and_args),
		cmocka_unit_test(test_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
