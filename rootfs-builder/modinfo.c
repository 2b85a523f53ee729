#include "rootfs-builder/modinfo.h"

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include "common/macro.h"

static int pread_exact(int fd, void *buf, size_t len, uint64_t off) {
	ssize_t n = pread(fd, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EBADMSG;
}

static bool in_file(uint64_t off, uint64_t len, uint64_t size) {
	return off <= size && len <= size - off;
}

int modinfo_read(int dirfd, const char *path, char **ret, size_t *ret_len) {
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ Elf64_Shdr *sh = NULL;
	_cleanup_free_ char *names = NULL;
	Elf64_Ehdr eh;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	r = pread_exact(fd, &eh, sizeof(eh), 0);
	if (r < 0)
		return r;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 ||
	    eh.e_shstrndx >= eh.e_shnum || !in_file(eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), st.st_size))
		return -EBADMSG;

	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	r = pread_exact(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), eh.e_shoff);
	if (r < 0)
		return r;
	const Elf64_Shdr *strs = &sh[eh.e_shstrndx];
	if (strs->sh_size == 0 || strs->sh_size > MODINFO_MAX || !in_file(strs->sh_offset, strs->sh_size, st.st_size))
		return -EBADMSG;
	names = malloc(strs->sh_size + 1);
	if (!names)
		return -ENOMEM;
	r = pread_exact(fd, names, strs->sh_size, strs->sh_offset);
	if (r < 0)
		return r;
	names[strs->sh_size] = '\0';

	for (size_t i = 0; i < eh.e_shnum; i++) {
		if (sh[i].sh_name >= strs->sh_size || strcmp(names + sh[i].sh_name, ".modinfo") != 0)
			continue;
		if (sh[i].sh_size > MODINFO_MAX || !in_file(sh[i].sh_offset, sh[i].sh_size, st.st_size))
			return -EBADMSG;
		char *info = malloc(sh[i].sh_size + 1);
		if (!info)
			return -ENOMEM;
		r = pread_exact(fd, info, sh[i].sh_size, sh[i].sh_offset);
		if (r < 0) {
			free(info);
			return r;
		}
		info[sh[i].sh_size] = '\0';
		*ret = info;
		*ret_len = sh[i].sh_size;
		return 0;
	}
	return -ENOENT;
}

int modinfo_foreach(const char *info, size_t len, int (*fn)(const char *key, const char *value, void *userdata),
		    void *userdata) {
	size_t pos = 0;
	while (pos < len) {
		const char *s = info + pos;
		size_t n = strnlen(s, len - pos);
		pos += n + 1;
		const char *eq = memchr(s, '=', n);
		if (!eq || eq == s)
			continue; /* padding between strings, or junk */
		char key[64];
		size_t klen = (size_t)(eq - s);
		if (klen >= sizeof(key))
			continue;
		memcpy(key, s, klen);
		key[klen] = '\0';
		/* The value ends at the string's NUL, or at the section end if the last one lacks it. */
		char value[4096];
		size_t vlen = n - klen - 1;
		if (vlen >= sizeof(value))
			continue;
		memcpy(value, eq + 1, vlen);
		value[vlen] = '\0';
		int r = fn(key, value, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}
