/* Replays a fuzz target's corpus without libFuzzer, so `make check` runs every stored input under ASan and
 * UBSan with plain gcc. Usage: fuzz-NAME DIR|FILE... */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
	char *buf = NULL;
	size_t len = 0;
	int r = read_file_capped(AT_FDCWD, path, 16u << 20, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-r));
		return r;
	}
	(void)LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv) {
	unsigned n = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			printf("[  FAILED  ] replay %s: missing\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				return 1;
			n++;
			continue;
		}
		struct dirent **ents;
		int k = scandir(argv[i], &ents, NULL, alphasort);
		if (k < 0)
			return 1;
		for (int j = 0; j < k; j++) {
			char p[4096];
			if (ents[j]->d_name[0] != '.' && format_checked(p, sizeof p, "%s/%s", argv[i], ents[j]->d_name) >= 0) {
				if (run_file(p) < 0)
					return 1;
				n++;
			}
			free(ents[j]);
		}
		free(ents);
	}
	/* Reaching here means no input crashed or tripped a sanitizer. */
	printf("[       OK ] replayed %u inputs\n", n);
	return n > 0 ? 0 : 1;
}
