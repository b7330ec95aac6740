/* SPDX-License-Identifier: MIT */
/* oui.c: MAC vendors from the IEEE OUI list, loaded on first need into a sorted array. */
#include "store_int.h"

#include "hex.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct oui_entry {
	uint32_t oui; /* first three bytes of the MAC, big-endian order in the low 24 bits */
	char name[STORE_VENDOR_LEN];
};

struct oui_table {
	struct oui_entry *e;
	size_t n;
};

void store_oui_free(struct oui_table *t)
{
	if (!t)
		return;
	free(t->e);
	free(t);
}

/* "XX-XX-XX" at p: the OUI, or -1. */
static long parse_oui(const char *p, const char *end)
{
	long v = 0;

	if (end - p < 8 || p[2] != '-' || p[5] != '-')
		return -1;
	for (int i = 0; i < 8; i += 3) {
		int hi = hex_digit(p[i]), lo = hex_digit(p[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		v = v << 8 | hi << 4 | lo;
	}
	return v;
}

/* Copies at most STORE_VENDOR_LEN - 1 bytes, never cutting a UTF-8 sequence in two. */
static void copy_name(char out[STORE_VENDOR_LEN], const char *p, size_t n)
{
	if (n > STORE_VENDOR_LEN - 1) {
		n = STORE_VENDOR_LEN - 1;
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

static int cmp_entry(const void *a, const void *b)
{
	uint32_t x = ((const struct oui_entry *)a)->oui, y = ((const struct oui_entry *)b)->oui;

	return x < y ? -1 : x > y;
}

/* Reads the whole file and keeps the "XX-XX-XX   (hex)\t\tName" lines (CRLF or LF). */
static struct oui_table *oui_load(const char *path)
{
	struct oui_table *t = NULL;
	struct stat sb;
	char *text = NULL;
	size_t cap = 0, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) || sb.st_size <= 0 || sb.st_size > (64 << 20))
		goto out;
	if (!(text = malloc((size_t)sb.st_size)))
		goto out;
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + len, (size_t)sb.st_size - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!(t = calloc(1, sizeof(*t))))
		goto out;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *hex;
		if (!eol)
			eol = end;
		long oui = parse_oui(p, eol);
		if (oui >= 0 && (hex = memmem(p, (size_t)(eol - p), "(hex)", 5))) {
			const char *name = hex + 5, *ne = eol;
			while (name < ne && (*name == ' ' || *name == '\t'))
				name++;
			while (ne > name && (ne[-1] == '\r' || ne[-1] == ' ' || ne[-1] == '\t'))
				ne--;
			if (t->n == cap) {
				size_t nc = cap ? 2 * cap : 4096;
				struct oui_entry *e = realloc(t->e, nc * sizeof(*e));
				if (!e) {
					store_oui_free(t);
					t = NULL;
					goto out;
				}
				t->e = e;
				cap = nc;
			}
			t->e[t->n].oui = (uint32_t)oui;
			copy_name(t->e[t->n].name, name, (size_t)(ne - name));
			t->n++;
		}
		p = eol + 1;
	}
	qsort(t->e, t->n, sizeof(*t->e), cmp_entry);
out:
	free(text);
	close(fd);
	return t;
}

void store_vendor_of(struct store *st, const uint8_t mac[6], char out[STORE_VENDOR_LEN])
{
	struct oui_entry key = { .oui = (uint32_t)mac[0] << 16 | (uint32_t)mac[1] << 8 | mac[2] };
	const struct oui_entry *e = NULL;

	out[0] = '\0';
	/* Locally administered (0x02) and group (0x01) addresses have no IEEE vendor: random
	 * MACs of VMs, containers and phones' privacy addresses never need the 5 MB list loaded. */
	if (!st->oui_path || (mac[0] & 0x03))
		return;
	pthread_mutex_lock(&st->oui_lock);
	if (!st->oui_tried) {
		/* A missing or unreadable list means no vendors, silently; it is tried once. */
		st->oui = oui_load(st->oui_path);
		st->oui_tried = true;
	}
	if (st->oui && st->oui->n)
		e = bsearch(&key, st->oui->e, st->oui->n, sizeof(*e), cmp_entry);
	if (e)
		memcpy(out, e->name, STORE_VENDOR_LEN);
	pthread_mutex_unlock(&st->oui_lock);
}
