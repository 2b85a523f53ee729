/* GetMetrics: Prometheus text exposition of the agent process (kata_agent_*) and the guest (kata_guest_*),
 * with the metric names the Rust agent uses (src/agent/src/metrics.rs) where it has them. Every source is
 * a /proc file read with a cap, and the text is built into a capped buffer: a source that does not fit is
 * left out with a comment, never grown into. */
#define LOG_SOURCE "rpc"
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "agent/agent.h"
#include "common/util.h"

#define METRICS_MAX (1u << 20)
#define SOURCE_MAX (1u << 20)
#define FDS_COUNT_MAX 1000000

typedef struct mbuf {
	char *buf;
	size_t len, cap;
	bool full;
} mbuf;

static void mb_printf(mbuf *b, const char *fmt, ...) _printf_(2, 3);
static void mb_printf(mbuf *b, const char *fmt, ...) {
	va_list ap;
	if (b->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		/* Cut back to the last whole line: a half metric line would break the scraper's parse. */
		b->full = true;
		b->buf[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

/* Label values: backslash, double quote and newline escaped, as the text format requires. */
static const char *label(const char *s, char *buf, size_t size) {
	size_t o = 0;
	for (; *s && o + 3 < size; s++) {
		char c = *s == '\n' ? 'n' : *s;
		if (*s == '\\' || *s == '"' || *s == '\n')
			buf[o++] = '\\';
		buf[o++] = c;
	}
	buf[o] = '\0';
	return buf;
}

static void family(mbuf *b, const char *name, const char *type, const char *help) {
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static char *read_source(mbuf *b, const char *path) {
	char *text = NULL;
	int r = read_file_capped(AT_FDCWD, path, SOURCE_MAX, &text, NULL);
	if (r < 0) {
		mb_printf(b, "# %s: %s\n", path, strerror(-r));
		return NULL;
	}
	return text;
}

static char *next_line(char **p) {
	char *line = *p;
	if (!line || !*line)
		return NULL;
	char *nl = strchr(line, '\n');
	*p = nl ? nl + 1 : NULL;
	if (nl)
		*nl = '\0';
	return line;
}

/* ---- the agent process ---- */

/* A "Key: value [kB]" file (/proc/self/status, /proc/meminfo) as one gauge family, sizes in bytes; extra, when
 * set, sees every pair too. */
static void kv_family(mbuf *b, const char *path, const char *metric, const char *help,
		      void (*extra)(mbuf *b, const char *key, unsigned long long v)) {
	_cleanup_free_ char *text = read_source(b, path);
	char key[64], lbuf[128];
	unsigned long long v;
	if (!text)
		return;
	family(b, metric, "gauge", help);
	char *p = text, *line;
	while ((line = next_line(&p))) {
		if (sscanf(line, "%63[^:]: %llu", key, &v) != 2)
			continue;
		if (strstr(line, " kB"))
			v *= 1024;
		mb_printf(b, "%s{item=\"%s\"} %llu\n", metric, label(key, lbuf, sizeof lbuf), v);
		if (extra)
			extra(b, key, v);
	}
}

static void agent_status_totals(mbuf *b, const char *key, unsigned long long v) {
	if (strcmp(key, "VmRSS") == 0)
		mb_printf(b, "# TYPE kata_agent_total_rss gauge\nkata_agent_total_rss %llu\n", v);
	else if (strcmp(key, "VmSize") == 0)
		mb_printf(b, "# TYPE kata_agent_total_vm gauge\nkata_agent_total_vm %llu\n", v);
	else if (strcmp(key, "Threads") == 0)
		mb_printf(b, "# TYPE kata_agent_threads gauge\nkata_agent_threads %llu\n", v);
}

static void agent_status(mbuf *b) {
	kv_family(b, "/proc/self/status", "kata_agent_proc_status",
		  "Agent process status (/proc/self/status; sizes in bytes).", agent_status_totals);
}

static void agent_cpu(mbuf *b) {
	_cleanup_free_ char *text = read_source(b, "/proc/self/stat");
	unsigned long long utime, stime;
	if (!text)
		return;
	/* comm may hold spaces and parentheses: the fields start after the last ')'. */
	char *p = strrchr(text, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return;
	double hz = (double)sysconf(_SC_CLK_TCK);
	family(b, "kata_agent_total_time", "gauge", "Agent process CPU time (user + system), seconds.");
	mb_printf(b, "kata_agent_total_time %.2f\n", (double)(utime + stime) / hz);
	family(b, "kata_agent_proc_stat", "gauge", "Agent process CPU time by kind, seconds.");
	mb_printf(b, "kata_agent_proc_stat{item=\"utime\"} %.2f\n", (double)utime / hz);
	mb_printf(b, "kata_agent_proc_stat{item=\"stime\"} %.2f\n", (double)stime / hz);
}

static void agent_fds(mbuf *b) {
	DIR *d = opendir("/proc/self/fd");
	unsigned long n = 0;
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d)) && n < FDS_COUNT_MAX)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	family(b, "kata_agent_open_fds", "gauge", "File descriptors the agent holds open.");
	mb_printf(b, "kata_agent_open_fds %lu\n", n > 0 ? n - 1 : 0); /* less the one reading the directory */
}

/* ---- the guest ---- */

static void guest_load(mbuf *b) {
	_cleanup_free_ char *text = read_source(b, "/proc/loadavg");
	double l1, l5, l15;
	unsigned long running, total;
	if (!text || sscanf(text, "%lf %lf %lf %lu/%lu", &l1, &l5, &l15, &running, &total) != 5)
		return;
	family(b, "kata_guest_load", "gauge", "Guest load averages.");
	mb_printf(b, "kata_guest_load{item=\"load1\"} %.2f\nkata_guest_load{item=\"load5\"} %.2f\n"
		     "kata_guest_load{item=\"load15\"} %.2f\n", l1, l5, l15);
	family(b, "kata_guest_tasks", "gauge", "Guest scheduling entities.");
	mb_printf(b, "kata_guest_tasks{item=\"running\"} %lu\nkata_guest_tasks{item=\"total\"} %lu\n", running, total);
}

static void guest_cpu(mbuf *b) {
	static const char *const items[] = { "user", "nice", "system", "idle", "iowait",
					     "irq", "softirq", "steal", "guest", "guest_nice" };
	_cleanup_free_ char *text = read_source(b, "/proc/stat");
	unsigned long long v[ELEMENTSOF(items)];
	char cpu[32];
	if (!text)
		return;
	double hz = (double)sysconf(_SC_CLK_TCK);
	family(b, "kata_guest_cpu_time", "counter", "Guest CPU time by CPU and kind, seconds.");
	char *p = text, *line;
	while ((line = next_line(&p))) {
		if (!startswith(line, "cpu"))
			continue;
		int n = sscanf(line, "%31s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", cpu, &v[0], &v[1],
			       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		for (int i = 0; i + 1 < n; i++)
			mb_printf(b, "kata_guest_cpu_time{cpu=\"%s\",item=\"%s\"} %.2f\n", cpu, items[i],
				  (double)v[i] / hz);
	}
}

static void guest_meminfo(mbuf *b) {
	kv_family(b, "/proc/meminfo", "kata_guest_meminfo", "Guest /proc/meminfo (sizes in bytes).", NULL);
}

static void guest_netdev(mbuf *b) {
	static const char *const items[] = {
		"recv_bytes", "recv_packets", "recv_errs", "recv_drop", "recv_fifo", "recv_frame", "recv_compressed",
		"recv_multicast", "sent_bytes", "sent_packets", "sent_errs", "sent_drop", "sent_fifo", "sent_colls",
		"sent_carrier", "sent_compressed",
	};
	_cleanup_free_ char *text = read_source(b, "/proc/net/dev");
	unsigned long long v[ELEMENTSOF(items)];
	char lbuf[64];
	if (!text)
		return;
	family(b, "kata_guest_netdev_stat", "counter", "Guest network interface statistics.");
	char *p = text, *line;
	while ((line = next_line(&p))) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		char *name = line + strspn(line, " ");
		int n = sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11],
			       &v[12], &v[13], &v[14], &v[15]);
		label(name, lbuf, sizeof lbuf);
		for (int i = 0; i < n; i++)
			mb_printf(b, "kata_guest_netdev_stat{interface=\"%s\",item=\"%s\"} %llu\n", lbuf, items[i], v[i]);
	}
}

static void guest_diskstats(mbuf *b) {
	static const char *const items[] = {
		"reads", "reads_merged", "sectors_read", "time_reading", "writes", "writes_merged",
		"sectors_written", "time_writing", "ios_in_progress", "time_ios", "weighted_time_ios",
	};
	_cleanup_free_ char *text = read_source(b, "/proc/diskstats");
	unsigned long long v[ELEMENTSOF(items)];
	char disk[64], lbuf[160];
	if (!text)
		return;
	family(b, "kata_guest_diskstat", "counter", "Guest block device statistics.");
	char *p = text, *line;
	while ((line = next_line(&p))) {
		int n = sscanf(line, " %*u %*u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", disk,
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10]);
		label(disk, lbuf, sizeof lbuf);
		for (int i = 0; i + 1 < n; i++)
			mb_printf(b, "kata_guest_diskstat{disk=\"%s\",item=\"%s\"} %llu\n", lbuf, items[i], v[i]);
	}
}

static void (*const sources[])(mbuf *b) = {
	agent_status, agent_cpu, agent_fds, guest_load, guest_cpu, guest_meminfo, guest_netdev, guest_diskstats,
};

static int get_metrics(void *ctx, ttrpc_call *call, const ProtobufCMessage *req, kc_error *err) {
	Grpc__Metrics resp = GRPC__METRICS__INIT;
	mbuf b = { .cap = METRICS_MAX };
	b.buf = malloc(b.cap);
	if (!b.buf)
		return kc_error_set(err, ENOMEM, "GetMetrics: out of memory");
	b.buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(sources) && !b.full; i++)
		sources[i](&b);
	resp.metrics = b.buf;
	ttrpc_call_reply(call, &resp.base);
	free(b.buf);
	return 0;
}

AGENT_HANDLER(grpc__agent_service__descriptor, "GetMetrics", get_metrics);
