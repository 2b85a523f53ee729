/* The storage checks that run on host input before any I/O: driver, fstype, mount point, and each driver's
 * own parsing (overlay layers, hugetlbfs page size and size, block sources, watchable paths). Input: the
 * driver, the fstype, the mount point, the source, then one option per line. */
#include <stdlib.h>
#include <string.h>

#include "storage/drivers-internal.h"
#include "storage/storage.h"

#define MAX_LINES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	const char *lines[MAX_LINES + 4] = { 0 };
	stor_root root = { .fd = -1, .prefix = STOR_ROOT_PREFIX };
	stor_mount_opts o;
	kc_error err = { 0 };
	size_t n = 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (char *p = s; n < MAX_LINES + 4;) {
		lines[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	stor_spec spec = { .driver = lines[0], .fstype = lines[1], .mount_point = lines[2], .source = lines[3],
			   .options = n > 4 ? lines + 4 : NULL, .n_options = n > 4 ? n - 4 : 0, .container_id = "c1",
			   /* the same items as driver options: overlayfs's create_directory paths are host input too */
			   .driver_options = n > 4 ? lines + 4 : NULL, .n_driver_options = n > 4 ? n - 4 : 0 };
	if (stor_spec_check(&spec, &root, "storages[0]", &err) < 0 && !err.msg[0])
		abort();
	if (stor_options_parse(spec.options, spec.n_options, &o, "options", &err) == 0) {
		uint64_t pagesize, pages;
		if (stor_hugetlb_parse(&o, &pagesize, &pages, "storages[0]", &err) == 0 &&
		    (pagesize < 4096 || (pagesize & (pagesize - 1)) || pages == 0))
			abort();
		(void)stor_options_drop_prefix(&o, "io.katacontainers.");
		if (o.data_len >= STOR_DATA_MAX || strlen(o.data) != o.data_len ||
		    strncmp(o.data, "io.katacontainers.", 18) == 0 || strstr(o.data, ",io.katacontainers."))
			abort();
	}
	free(s);
	return 0;
}
