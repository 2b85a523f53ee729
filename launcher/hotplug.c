/* kata-launch hotplug: devices added to (and removed from) a running VM over QMP, the way the Kata runtime
 * does it (reference/guest-boot.md §3), printing what the guest should look for. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "launcher/cli.h"
#include "launcher/qmp.h"
#include "launcher/state.h"

#define QMP_TIMEOUT_MS 10000
#define DEVICE_DELETED_TIMEOUT_MS 20000 /* PCIe native hotplug waits 5 s for the attention button */
#define ROOT_PORT_ID "rp0"              /* the free pcie-root-port kata-launch boot adds on q35 */
#define ID_MAX 32
#define SCSI_CONTROLLER_ID "scsi0"

typedef struct hotplug_cmd {
	const char *name;
	int n_args;
	const char *args_help;
	int (*run)(qmp *q, char **args, kc_error *err);
} hotplug_cmd;

static json_object *obj(void) {
	return json_object_new_object();
}

static void set_str(json_object *o, const char *k, const char *v) {
	json_object_object_add(o, k, json_object_new_string(v));
}

/* A command whose one argument names the object: device_del, blockdev-del, netdev_del. */
static int execute_named(qmp *q, const char *cmd, const char *key, const char *id, kc_error *err) {
	json_object *a = obj();
	set_str(a, key, id);
	return qmp_execute(q, cmd, a, NULL, err);
}

/* A raw image as block node `id`, for a device to attach as its drive. */
static int file_blockdev_add(qmp *q, const char *id, const char *image, kc_error *err) {
	char abs[PATH_MAX];
	if (!realpath(image, abs))
		return kc_error_set(err, errno, "image `%s`: %m", image);
	json_object *bd = obj();
	set_str(bd, "driver", "file");
	set_str(bd, "node-name", id);
	set_str(bd, "filename", abs);
	return qmp_execute(q, "blockdev-add", bd, NULL, err);
}

/* device_add of a device over its backend; when QEMU refuses it, the backend goes too (undo_cmd with undo_key
 * naming the device's id, which the backend shares). */
static int device_add_or_undo(qmp *q, json_object *dev, const char *id, const char *undo_cmd, const char *undo_key,
			      kc_error *err) {
	int r = qmp_execute(q, "device_add", dev, NULL, err);
	if (r < 0)
		(void)execute_named(q, undo_cmd, undo_key, id, NULL);
	return r;
}

/* Unplugs device `id` (waiting until the guest let it go), then removes its backend of the same id. */
static int unplug(qmp *q, const char *id, const char *backend_cmd, const char *backend_key, kc_error *err) {
	int r = execute_named(q, "device_del", "id", id, err);
	if (r >= 0)
		r = qmp_wait_event(q, "DEVICE_DELETED", id, DEVICE_DELETED_TIMEOUT_MS, err);
	return r < 0 ? r : execute_named(q, backend_cmd, backend_key, id, err);
}

/* The slot of the root port on the root bus, from query-pci. */
static int root_port_slot(qmp *q, int *ret, kc_error *err) {
	json_object *buses = NULL;
	int r = qmp_execute(q, "query-pci", NULL, &buses, err);
	if (r < 0)
		return r;
	r = kc_error_set(err, ENOENT, "no PCI device `%s` (boot with --machine q35)", ROOT_PORT_ID);
	for (size_t i = 0; i < json_object_array_length(buses); i++) {
		json_object *devs, *bus = json_object_array_get_idx(buses, i);
		if (!json_object_object_get_ex(bus, "devices", &devs))
			continue;
		for (size_t k = 0; k < json_object_array_length(devs); k++) {
			json_object *qid, *slot, *d = json_object_array_get_idx(devs, k);
			if (json_object_object_get_ex(d, "qdev_id", &qid) &&
			    strcmp(json_object_get_string(qid), ROOT_PORT_ID) == 0 &&
			    json_object_object_get_ex(d, "slot", &slot)) {
				*ret = json_object_get_int(slot);
				kc_error_clear(err);
				r = 0;
			}
		}
	}
	json_object_put(buses);
	return r;
}

static int blk_add(qmp *q, char **args, kc_error *err) {
	const char *id = args[0];
	int slot;

	int r = root_port_slot(q, &slot, err);
	if (r >= 0)
		r = file_blockdev_add(q, id, args[1], err);
	if (r < 0)
		return r;
	json_object *dev = obj();
	set_str(dev, "driver", "virtio-blk-pci");
	set_str(dev, "id", id);
	set_str(dev, "drive", id);
	set_str(dev, "bus", ROOT_PORT_ID);
	r = device_add_or_undo(q, dev, id, "blockdev-del", "node-name", err);
	if (r < 0)
		return r;
	/* A root port has one slot below it: the disk is slot 0 on its secondary bus. */
	printf("pci_path=%02x/00\n", slot);
	return 0;
}

static int blk_del(qmp *q, char **args, kc_error *err) {
	return unplug(q, args[0], "blockdev-del", "node-name", err);
}

/* Whether QEMU has a device with this id (a user-created one, under /machine/peripheral). */
static bool has_device(qmp *q, const char *id) {
	json_object *list = NULL, *a = obj();
	bool found = false;
	set_str(a, "path", "/machine/peripheral");
	if (qmp_execute(q, "qom-list", a, &list, NULL) < 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *name, *e = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(e, "name", &name) && strcmp(json_object_get_string(name), id) == 0)
			found = true;
	}
	json_object_put(list);
	return found;
}

static int parse_small(const char *s, unsigned max, const char *what, json_object *dev, kc_error *err) {
	uint64_t v;
	if (parse_u64(s, 10, &v) < 0 || v > max)
		return kc_error_set(err, EINVAL, "%s `%s` is not a number from 0 to %u", what, s, max);
	json_object_object_add(dev, what, json_object_new_int((int)v));
	return 0;
}

/* A scsi-hd on the virtio-scsi controller scsi0, as the Kata runtime plugs its block devices by default. The
 * controller goes into the root port the first time (Kata has it from boot; the guest boots with
 * scsi_mod.scan=none, so the disk shows only when the agent asks the host to scan that target). */
static int scsi_add(qmp *q, char **args, kc_error *err) {
	const char *id = args[0];
	int r;

	json_object *dev = obj();
	set_str(dev, "driver", "scsi-hd");
	set_str(dev, "id", id);
	set_str(dev, "drive", id);
	set_str(dev, "bus", SCSI_CONTROLLER_ID ".0");
	if (parse_small(args[2], 255, "scsi-id", dev, err) < 0 || parse_small(args[3], 16383, "lun", dev, err) < 0) {
		json_object_put(dev);
		return -EINVAL;
	}
	if (!has_device(q, SCSI_CONTROLLER_ID)) {
		int slot;
		json_object *ctl = obj();
		r = root_port_slot(q, &slot, err);
		if (r >= 0) {
			set_str(ctl, "driver", "virtio-scsi-pci");
			set_str(ctl, "id", SCSI_CONTROLLER_ID);
			set_str(ctl, "bus", ROOT_PORT_ID);
			r = qmp_execute(q, "device_add", ctl, NULL, err);
		} else
			json_object_put(ctl);
		if (r < 0) {
			json_object_put(dev);
			return kc_error_prefix(err, "virtio-scsi controller");
		}
	}
	r = file_blockdev_add(q, id, args[1], err);
	if (r < 0) {
		json_object_put(dev);
		return r;
	}
	r = device_add_or_undo(q, dev, id, "blockdev-del", "node-name", err);
	if (r < 0)
		return r;
	printf("scsi_addr=%s:%s\n", args[2], args[3]);
	return 0;
}

static int mem_add(qmp *q, char **args, kc_error *err) {
	uint64_t mib;
	char memdev[ID_MAX + 8];
	if (parse_u64(args[1], 10, &mib) < 0 || mib == 0 || mib > (1u << 20))
		return kc_error_set(err, EINVAL, "size `%s` is not a number of MiB", args[1]);
	(void)format_checked(memdev, sizeof memdev, "mem-%s", args[0]);
	json_object *o = obj();
	set_str(o, "qom-type", "memory-backend-ram");
	set_str(o, "id", memdev);
	json_object_object_add(o, "size", json_object_new_int64((int64_t)(mib << 20)));
	int r = qmp_execute(q, "object-add", o, NULL, err);
	if (r < 0)
		return r;
	json_object *dev = obj();
	set_str(dev, "driver", "pc-dimm");
	set_str(dev, "id", args[0]);
	set_str(dev, "memdev", memdev);
	r = qmp_execute(q, "device_add", dev, NULL, err);
	if (r < 0)
		return r;
	printf("memory_mib=%llu\n", (unsigned long long)mib);
	return 0;
}

/* The first CPU slot QEMU has not filled (no qom-path), with its topology properties as device_add wants
 * them. */
static int cpu_add(qmp *q, char **args, kc_error *err) {
	json_object *slots = NULL;
	int r = qmp_execute(q, "query-hotpluggable-cpus", NULL, &slots, err);
	if (r < 0)
		return r;
	r = kc_error_set(err, ENOSPC, "no free CPU slot (boot with --max-cpus)");
	for (size_t i = 0; i < json_object_array_length(slots); i++) {
		json_object *s = json_object_array_get_idx(slots, i), *path, *type, *props;
		if (json_object_object_get_ex(s, "qom-path", &path) || !json_object_object_get_ex(s, "type", &type) ||
		    !json_object_object_get_ex(s, "props", &props))
			continue;
		char id[ID_MAX];
		(void)format_checked(id, sizeof id, "cpu-%zu", i);
		json_object *dev = obj();
		set_str(dev, "driver", json_object_get_string(type));
		set_str(dev, "id", id);
		json_object_object_foreach(props, key, val) json_object_object_add(dev, key, json_object_get(val));
		kc_error_clear(err);
		r = qmp_execute(q, "device_add", dev, NULL, err);
		if (r >= 0)
			printf("cpu_id=%s\n", id);
		break;
	}
	json_object_put(slots);
	return r;
}

/* A virtio-net NIC on QEMU's user-mode network (restrict=on: nothing leaves the machine) in the root port, as
 * the runtime hot-plugs a pod's NIC; the guest finds it by the printed PCI path or by its MAC. */
static int net_add(qmp *q, char **args, kc_error *err) {
	const char *id = args[0], *mac = args[1];
	uint8_t hw[6];
	int slot;

	if (strlen(mac) != 17 || sscanf(mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &hw[0], &hw[1], &hw[2], &hw[3], &hw[4],
					&hw[5]) != 6 || (hw[0] & 1))
		return kc_error_set(err, EINVAL, "MAC `%s` is not a unicast xx:xx:xx:xx:xx:xx address", mac);
	int r = root_port_slot(q, &slot, err);
	if (r < 0)
		return r;
	json_object *nd = obj();
	set_str(nd, "type", "user");
	set_str(nd, "id", id);
	json_object_object_add(nd, "restrict", json_object_new_boolean(true));
	r = qmp_execute(q, "netdev_add", nd, NULL, err);
	if (r < 0)
		return r;
	json_object *dev = obj();
	set_str(dev, "driver", "virtio-net-pci");
	set_str(dev, "id", id);
	set_str(dev, "netdev", id);
	set_str(dev, "mac", mac);
	set_str(dev, "bus", ROOT_PORT_ID);
	r = device_add_or_undo(q, dev, id, "netdev_del", "id", err);
	if (r < 0)
		return r;
	printf("pci_path=%02x/00\nmac=%s\n", slot, mac);
	return 0;
}

static int net_del(qmp *q, char **args, kc_error *err) {
	return unplug(q, args[0], "netdev_del", "id", err);
}

static const hotplug_cmd cmds[] = {
	{ "blk-add", 2, "ID RAW_IMAGE", blk_add },
	{ "blk-del", 1, "ID", blk_del },
	{ "scsi-add", 4, "ID RAW_IMAGE SCSI_ID LUN", scsi_add },
	{ "scsi-del", 1, "ID", blk_del },
	{ "mem-add", 2, "ID SIZE_MIB", mem_add },
	{ "cpu-add", 0, "", cpu_add },
	{ "net-add", 2, "ID MAC", net_add },
	{ "net-del", 1, "ID", net_del },
};

static int usage(FILE *f, int code) {
	fputs("usage: kata-launch hotplug NAME COMMAND ARGS\n", f);
	for (size_t i = 0; i < ELEMENTSOF(cmds); i++)
		fprintf(f, "  %s %s\n", cmds[i].name, cmds[i].args_help);
	return code;
}

static bool id_ok(const char *s) {
	size_t l = strlen(s);
	return l > 0 && l < ID_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == l;
}

int cmd_hotplug(int argc, char **argv) {
	char dir[PATH_MAX], sock[PATH_MAX];
	kc_error err = { 0 };
	qmp *q = NULL;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return usage(stdout, 0);
	if (argc < 3)
		return usage(stderr, 2);
	const hotplug_cmd *c = NULL;
	for (size_t i = 0; i < ELEMENTSOF(cmds); i++)
		if (strcmp(argv[2], cmds[i].name) == 0)
			c = &cmds[i];
	if (!c || argc != 3 + c->n_args || (c->n_args > 0 && !id_ok(argv[3])))
		return usage(stderr, 2);
	if (state_dir_path(argv[1], dir, sizeof dir) < 0 || state_path(dir, "qmp.sock", sock, sizeof sock) < 0) {
		fprintf(stderr, "kata-launch hotplug: invalid VM name `%s`\n", argv[1]);
		return 2;
	}
	int r = qmp_open(sock, QMP_TIMEOUT_MS, &q, &err);
	if (r >= 0)
		r = c->run(q, argv + 3, &err);
	qmp_close(q);
	if (r < 0) {
		fprintf(stderr, "kata-launch hotplug %s: %s\n", c->name, err.msg);
		return 1;
	}
	return 0;
}
