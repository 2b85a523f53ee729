/* Mount option parsing: the input is a list of options, one per line (each may hold commas itself). */
#include <stdlib.h>
#include <string.h>

#include "storage/options.h"

#define MAX_LINES 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	const char *opts[MAX_LINES];
	stor_mount_opts o;
	kc_error err;
	size_t n = 0;
	char v[64];
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (char *p = s; n < MAX_LINES;) {
		opts[n++] = p;
		char *nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	if (stor_options_parse(opts, n, &o, "options", &err) == 0) {
		/* The invariants the mount call relies on. */
		if (o.data_len >= STOR_DATA_MAX || strlen(o.data) != o.data_len)
			abort();
		int taken = stor_options_take(&o, "fsgid", v, sizeof v);
		(void)stor_options_take(&o, "mode", v, 2);
		if (!stor_options_has(&o, "trans"))
			(void)stor_options_append(&o, "trans=virtio");
		if (o.data_len >= STOR_DATA_MAX || strlen(o.data) != o.data_len ||
		    (taken >= 0 && stor_options_has(&o, "fsgid")))
			abort();
	} else if (!err.msg[0])
		abort();
	free(s);
	return 0;
}
