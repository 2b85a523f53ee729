/* cpio-extra: writes a newc cpio holding a few host files, for appending to an initrd made by mkinitrd.
 *
 *   cpio-extra OUTPUT DEST=SRC...
 *
 * The kernel unpacks concatenated cpio archives in order, so `mkinitrd build` output followed by this one
 * is an initrd with extra files (the test initrd's /bin/kata-agent) without teaching mkinitrd about them.
 * Each DEST gets its parent directories (0755) and mode 0755; the bytes are reproducible like mkinitrd's
 * (sorted entries, owners 0, mtime SOURCE_DATE_EPOCH or 0). Host tool: a failure fails the build. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "rootfs-builder/cpio.h"

#define EXTRA_FILE_MAX (64u << 20)

static uint32_t build_mtime(void) {
	const char *s = getenv("SOURCE_DATE_EPOCH");
	uint64_t v;
	if (s && parse_u64(s, 10, &v) >= 0 && v <= UINT32_MAX)
		return (uint32_t)v;
	return 0;
}

static int add_parents(cpio_archive *a, const char *dest) {
	char buf[CPIO_NAME_MAX];
	int r = format_checked(buf, sizeof buf, "%s", dest);
	if (r < 0)
		return r;
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		r = cpio_add_dir(a, buf, 0755);
		*p = '/';
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

static int add_one(cpio_archive *a, char *spec) {
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	char *eq = strchr(spec, '=');
	int r;

	if (!eq || eq == spec || !eq[1])
		return -EINVAL;
	*eq = '\0';
	const char *dest = spec[0] == '/' ? spec + 1 : spec, *src = eq + 1;
	r = read_file_capped(AT_FDCWD, src, EXTRA_FILE_MAX, &data, &len);
	if (r < 0)
		return fprintf(stderr, "cpio-extra: read %s: %s\n", src, strerror(-r)), r;
	r = add_parents(a, dest);
	if (r >= 0)
		r = cpio_add_file(a, dest, 0755, data, len);
	if (r < 0)
		return fprintf(stderr, "cpio-extra: add %s: %s\n", dest, strerror(-r)), r;
	return 0;
}

int main(int argc, char **argv) {
	_cleanup_(cpio_freep) cpio_archive *a = NULL;
	const uint8_t *data;
	size_t len;
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: cpio-extra OUTPUT DEST=SRC...\n");
		return 2;
	}
	r = cpio_new(build_mtime(), &a);
	for (int i = 2; i < argc && r >= 0; i++)
		r = add_one(a, argv[i]);
	if (r >= 0)
		r = cpio_finish(a, &data, &len);
	if (r < 0)
		return fprintf(stderr, "cpio-extra: %s\n", strerror(-r)), 1;
	_cleanup_close_ int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, data, len) < 0)
		return fprintf(stderr, "cpio-extra: write %s: %m\n", argv[1]), 1;
	return 0;
}
