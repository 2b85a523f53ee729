/* lcrun's commands that describe rather than act: list, spec and features. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "libcontainer-c/cli/lcrun.h"
#include "libcontainer-c/container.h"
#include "libcontainer-c/hooks.h"
#include "libcontainer-c/specconv.h"

/* ---- list ---------------------------------------------------------------------------------------------- */

/* runc's columns (ID PID STATUS BUNDLE CREATED OWNER), or its JSON array of states; -q prints ids only. A
 * directory that vanishes or is half-created while we look is skipped, as runc does. */
int cmd_list(int argc, char **argv) {
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'}, {}};
	bool json = false, quiet = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
		if (o == 'q')
			quiet = true;
		else if (o == 'f' && (strcmp(optarg, "json") == 0 || strcmp(optarg, "table") == 0))
			json = strcmp(optarg, "json") == 0;
		else
			return usage_error("list", "usage: list [--format table|json] [-q]");
	}
	if (optind != argc)
		return usage_error("list", "usage: list [--format table|json] [-q]");

	json_object *arr = json_object_new_array();
	DIR *d = opendir(opt_root);
	if (!d && errno != ENOENT) {
		fprintf(stderr, "lcrun: state root `%s`: %s\n", opt_root, strerror(errno));
		json_object_put(arr);
		return 1;
	}
	for (struct dirent *e; d && (e = readdir(d));) {
		_cleanup_free_ char *text = NULL;
		kc_error err = {0};
		if (e->d_name[0] == '.' || lc_container_state(opt_root, e->d_name, &text, NULL, &err) < 0)
			continue;
		json_object *st = json_tokener_parse(text);
		if (st)
			json_object_array_add(arr, st);
	}
	if (d)
		closedir(d);

	size_t n = json_object_array_length(arr);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		if (!quiet)
			printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
		for (size_t i = 0; i < n; i++) {
			json_object *st = json_object_array_get_idx(arr, i), *v;
#define F(k) (json_object_object_get_ex(st, k, &v) ? json_object_get_string(v) : "")
			if (quiet) {
				printf("%s\n", F("id"));
				continue;
			}
			printf("%-12s %-8s %-10s %-40s %-30s %s\n", F("id"), F("pid"), F("status"), F("bundle"), F("created"),
			       *F("owner") ? F("owner") : "root");
#undef F
		}
	}
	json_object_put(arr);
	return 0;
}

/* ---- spec ---------------------------------------------------------------------------------------------- */

/* The default config `runc spec` writes (OCI 1.0.2): sh on a terminal, the three default capabilities, the
 * usual pseudo filesystems, masked and read-only paths, and new pid, network, ipc, uts, mount and cgroup
 * namespaces. */
static const char default_spec[] =
	"{\n"
	"\t\"ociVersion\": \"1.0.2\",\n"
	"\t\"process\": {\n"
	"\t\t\"terminal\": true,\n"
	"\t\t\"user\": {\"uid\": 0, \"gid\": 0},\n"
	"\t\t\"args\": [\"sh\"],\n"
	"\t\t\"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\"],\n"
	"\t\t\"cwd\": \"/\",\n"
	"\t\t\"capabilities\": {\n"
	"\t\t\t\"bounding\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
	"\t\t\t\"effective\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
	"\t\t\t\"inheritable\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
	"\t\t\t\"permitted\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"],\n"
	"\t\t\t\"ambient\": [\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]\n"
	"\t\t},\n"
	"\t\t\"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024}],\n"
	"\t\t\"noNewPrivileges\": true\n"
	"\t},\n"
	"\t\"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
	"\t\"hostname\": \"lcrun\",\n"
	"\t\"mounts\": [\n"
	"\t\t{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
	"\t\t{\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
	"\t\t{\"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]},\n"
	"\t\t{\"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]},\n"
	"\t\t{\"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [\"nosuid\", \"noexec\", \"nodev\"]},\n"
	"\t\t{\"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]},\n"
	"\t\t{\"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]}\n"
	"\t],\n"
	"\t\"linux\": {\n"
	"\t\t\"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n"
	"\t\t\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": \"cgroup\"}],\n"
	"\t\t\"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\", \"/proc/timer_list\",\n"
	"\t\t\t\"/proc/timer_stats\", \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],\n"
	"\t\t\"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]\n"
	"\t}\n"
	"}\n";

/* The default spec made for an unprivileged user, as runc's `spec --rootless`: its own user namespace mapping
 * it to root, no network namespace (it could not give one an interface), /sys bound from the host (sysfs
 * cannot be mounted without owning the network namespace), no uid=/gid= mount options (ids it cannot map), and
 * no linux.resources (which need a delegated cgroup). Returns the JSON text, malloc'd; NULL: out of memory. */
static char *rootless_spec(void) {
	_cleanup_(json_object_putp) json_object *doc = json_tokener_parse(default_spec);
	json_object *linux_ = NULL, *nss = NULL, *mounts = NULL;
	if (!doc || !json_object_object_get_ex(doc, "linux", &linux_) ||
	    !json_object_object_get_ex(linux_, "namespaces", &nss) || !json_object_object_get_ex(doc, "mounts", &mounts))
		return NULL;
	json_object *keep = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(nss); i++) {
		json_object *ns = json_object_array_get_idx(nss, i), *type;
		if (json_object_object_get_ex(ns, "type", &type) && strcmp(json_object_get_string(type), "network") != 0)
			json_object_array_add(keep, json_object_get(ns));
	}
	json_object *user = json_object_new_object();
	json_object_object_add(user, "type", json_object_new_string("user"));
	json_object_array_add(keep, user);
	json_object_object_add(linux_, "namespaces", keep);
	const char *maps[] = {"uidMappings", "gidMappings"};
	for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
		json_object *m = json_object_new_object(), *a = json_object_new_array();
		json_object_object_add(m, "containerID", json_object_new_int64(0));
		json_object_object_add(m, "hostID", json_object_new_int64(i == 0 ? (int64_t)geteuid() : (int64_t)getegid()));
		json_object_object_add(m, "size", json_object_new_int64(1));
		json_object_array_add(a, m);
		json_object_object_add(linux_, maps[i], a);
	}
	json_object_object_del(linux_, "resources");
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		json_object *mnt = json_object_array_get_idx(mounts, i), *dst, *opts;
		if (json_object_object_get_ex(mnt, "destination", &dst) && strcmp(json_object_get_string(dst), "/sys") == 0) {
			json_object_object_add(mnt, "type", json_object_new_string("none"));
			json_object_object_add(mnt, "source", json_object_new_string("/sys"));
			opts = json_object_new_array();
			const char *o[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
			for (size_t k = 0; k < ELEMENTSOF(o); k++)
				json_object_array_add(opts, json_object_new_string(o[k]));
			json_object_object_add(mnt, "options", opts);
			continue;
		}
		if (!json_object_object_get_ex(mnt, "options", &opts))
			continue;
		json_object *kept = json_object_new_array();
		for (size_t k = 0; k < json_object_array_length(opts); k++) {
			const char *o = json_object_get_string(json_object_array_get_idx(opts, k));
			if (strncmp(o, "uid=", 4) != 0 && strncmp(o, "gid=", 4) != 0)
				json_object_array_add(kept, json_object_new_string(o));
		}
		json_object_object_add(mnt, "options", kept);
	}
	const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB |
								       JSON_C_TO_STRING_NOSLASHESCAPE);
	char *ret = NULL;
	return text && asprintf(&ret, "%s\n", text) >= 0 ? ret : NULL;
}

int cmd_spec(int argc, char **argv) {
	static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'}, {"rootless", no_argument, NULL, 'r'}, {}};
	const char *bundle = ".";
	bool rootless = false;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
		if (o == 'r') {
			rootless = true;
			continue;
		}
		if (o != 'b')
			return usage_error("spec", "usage: spec [--bundle DIR] [--rootless]");
		bundle = optarg;
	}
	if (optind != argc)
		return usage_error("spec", "usage: spec [--bundle DIR] [--rootless]");
	_cleanup_free_ char *text = rootless ? rootless_spec() : strdup(default_spec);
	if (!text) {
		fprintf(stderr, "lcrun spec: out of memory\n");
		return 1;
	}
	_cleanup_close_ int dir = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		fprintf(stderr, "lcrun spec: bundle `%s`: %s\n", bundle, strerror(errno));
		return 1;
	}
	/* Never over an existing config, as runc refuses too. */
	_cleanup_close_ int fd = openat(dir, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "lcrun spec: %s/config.json: %s\n", bundle, errno == EEXIST ? "file exists" : strerror(errno));
		return 1;
	}
	if (write_all(fd, text, strlen(text)) < 0) {
		fprintf(stderr, "lcrun spec: write %s/config.json: %s\n", bundle, strerror(errno));
		return 1;
	}
	return 0;
}

/* ---- features ------------------------------------------------------------------------------------------- */

static json_object *names(lc_name_table t) {
	json_object *a = json_object_new_array();
	for (size_t i = 0; lc_name_at(t, i); i++)
		json_object_array_add(a, json_object_new_string(lc_name_at(t, i)));
	return a;
}

static json_object *boolean(bool b) {
	return json_object_new_boolean(b);
}

/* The runtime-spec's features document (features.md), from the tables specconv validates against, so that
 * what we claim is exactly what we accept. */
int cmd_features(int argc, char **argv) {
	if (argc != 1)
		return usage_error("features", "takes no arguments");
	json_object *f = json_object_new_object(), *linux_ = json_object_new_object();
	json_object_object_add(f, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(f, "ociVersionMax", json_object_new_string("1.2.0"));

	json_object *hooks = json_object_new_array();
	for (lc_hook_kind k = 0; k < _LC_HOOK_MAX; k++)
		json_object_array_add(hooks, json_object_new_string(lc_hook_kind_name(k)));
	json_object_object_add(f, "hooks", hooks);
	json_object_object_add(f, "mountOptions", names(LC_NAMES_MOUNT_OPTIONS));

	json_object *ns = json_object_new_array();
	for (lc_ns_kind k = 0; k < _LC_NS_MAX; k++)
		json_object_array_add(ns, json_object_new_string(lc_ns_kind_name(k)));
	json_object_object_add(linux_, "namespaces", ns);
	json_object *caps = json_object_new_array();
	for (int c = 0; c <= LC_CAP_LAST; c++)
		if (lc_capability_to_name(c))
			json_object_array_add(caps, json_object_new_string(lc_capability_to_name(c)));
	json_object_object_add(linux_, "capabilities", caps);

	json_object *cg = json_object_new_object();
	json_object_object_add(cg, "v1", boolean(true));
	json_object_object_add(cg, "v2", boolean(true));
	json_object_object_add(cg, "systemd", boolean(false));
	json_object_object_add(cg, "systemdUser", boolean(false));
	json_object_object_add(cg, "rdma", boolean(true));
	json_object_object_add(linux_, "cgroup", cg);

	json_object *sc = json_object_new_object();
	json_object_object_add(sc, "enabled", boolean(true));
	json_object_object_add(sc, "actions", names(LC_NAMES_SECCOMP_ACTIONS));
	json_object_object_add(sc, "operators", names(LC_NAMES_SECCOMP_OPERATORS));
	json_object_object_add(sc, "archs", names(LC_NAMES_SECCOMP_ARCHES));
	json_object_object_add(sc, "knownFlags", names(LC_NAMES_SECCOMP_FLAGS));
	json_object_object_add(sc, "supportedFlags", names(LC_NAMES_SECCOMP_FLAGS));
	json_object_object_add(linux_, "seccomp", sc);

	json_object *en = json_object_new_object();
	json_object_object_add(en, "enabled", boolean(false));
	json_object_object_add(linux_, "apparmor", json_object_get(en));
	json_object_object_add(linux_, "selinux", en);
	json_object *idm = json_object_new_object();
	json_object_object_add(idm, "enabled", boolean(true));
	json_object_object_add(linux_, "mountExtensions", json_object_new_object());
	json_object_object_add(json_object_object_get(linux_, "mountExtensions"), "idmap", idm);
	json_object_object_add(f, "linux", linux_);

	json_object *ann = json_object_new_object();
	json_object_object_add(ann, "org.opencontainers.runc.version", json_object_new_string(KC_VERSION));
	json_object_object_add(ann, "io.github.lcrun.version", json_object_new_string(KC_VERSION));
	json_object_object_add(f, "annotations", ann);

	printf("%s\n", json_object_to_json_string_ext(f, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(f);
	return 0;
}
