/* The kernel uevent parser, and the sysfs uevent-file parser, on arbitrary bytes. The first byte picks the
 * parser; the rest is the message. */
#include <stdlib.h>
#include <string.h>

#include "storage/uevent.h"

static void check_path(const char *p) {
	/* What the parser promises: no ".." component, nothing outside printable ASCII. */
	if (!p)
		return;
	if (strstr(p, "/../") || strncmp(p, "../", 3) == 0 || strcmp(p, "..") == 0)
		abort();
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	uevent e;
	if (size < 1)
		return 0;
	char *buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	int r = data[0] & 1 ? uevent_parse_sysfs(buf, size - 1, "/devices/x", "block", &e)
			    : uevent_parse(buf, size - 1, &e);
	if (r == 0) {
		if (!e.devpath || e.devpath[0] != '/' || !e.subsystem || (unsigned)e.action >= _UEVENT_ACTION_MAX)
			abort();
		check_path(e.devpath);
		check_path(e.devname);
		if (e.devname && e.devname[0] == '/')
			abort();
	} else if (r != -EBADMSG)
		abort();
	free(buf);
	return 0;
}
