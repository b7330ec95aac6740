/* SPDX-License-Identifier: MIT */
/*
 * inventory.c: the CSV reader behind `lnmt devices --import` (inventory.h says what it accepts).
 */
#include "inventory.h"

#include "cli.h"
#include "targets.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/*
 * One CSV field at *p, which moves past it and its comma; *more says whether a comma followed.
 * Quoted ("" inside is a quote) or bare (spaces around it trimmed); with rest, a bare field is
 * the rest of the line, commas and all. NULL with *why set for a bad quoted field.
 */
static char *csv_next(char **p, bool rest, bool *more, const char **why)
{
	char *s = *p, *out, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	*more = false;
	if (*s == '"') {
		out = w = ++s;
		for (;;) {
			if (!*s) {
				*why = "a quoted field is not closed";
				return NULL;
			}
			if (*s == '"' && s[1] == '"') {
				*w++ = '"';
				s += 2;
			} else if (*s == '"') {
				s++;
				break;
			} else {
				*w++ = *s++;
			}
		}
		*w = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != ',') {
			*why = "text after a closing quote (a quote inside a quoted field is written \"\")";
			return NULL;
		}
	} else {
		out = s;
		s = rest ? s + strlen(s) : s + strcspn(s, ",");
		char *e = s;
		while (e > out && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		bool comma = *s == ',';
		*e = '\0';
		*more = comma;
		*p = comma ? s + 1 : s;
		return out;
	}
	*more = *s == ',';
	*p = *s ? s + 1 : s;
	return out;
}


void inventory_free(struct inventory *inv)
{
	for (size_t i = 0; i < inv->n_text; i++)
		free(inv->text[i]);
	free(inv->text);
	free(inv->e);
	free(inv->line);
}

static const char *keep(struct inventory *inv, const char *s)
{
	char *c = strdup(s);

	if (c)
		inv->text[inv->n_text++] = c;
	return c;
}

/* Parses one line (comments and blank lines already skipped) into the inventory. 0, or
 * EXIT_USAGE / 1 with the message printed. */
static int inventory_line(struct inventory *inv, const char *file, size_t lineno, char *line)
{
	char *p = line, *ipf, *name = NULL, *note = NULL, why[256];
	const char *bad = NULL;
	bool more;
	struct target_range r;

	ipf = csv_next(&p, false, &more, &bad);
	if (ipf && more)
		name = csv_next(&p, false, &more, &bad);
	if (name && more)
		note = csv_next(&p, true, &more, &bad);
	if (bad) {
		cli_error("%s:%zu: %s", file, lineno, bad);
		return EXIT_USAGE;
	}
	if (more) {
		cli_error("%s:%zu: more than three fields: expected ip,name,note", file, lineno);
		return EXIT_USAGE;
	}
	if (target_parse_range(ipf, &r, why, sizeof(why)) || r.first != r.last) {
		cli_error("%s:%zu: bad address '%s': expected ip,name,note with an IPv4 address first", file, lineno, ipf);
		return EXIT_USAGE;
	}
	if (!name) {
		cli_error("%s:%zu: nothing to set for %s: expected ip,name,note", file, lineno, ipf);
		return EXIT_USAGE;
	}
	if (store_note_check(name, note, why, sizeof(why))) {
		cli_error("%s:%zu: %s", file, lineno, why);
		return EXIT_USAGE;
	}
	if (inv->n == STORE_NOTES_IMPORT_MAX) {
		cli_error("%s:%zu: more than %u entries: split the file", file, lineno, STORE_NOTES_IMPORT_MAX);
		return EXIT_USAGE;
	}
	if (inv->n == inv->cap) {
		size_t cap = inv->cap ? 2 * inv->cap : 256;
		struct store_note_edit *e = realloc(inv->e, cap * sizeof(*e));
		if (e)
			inv->e = e;
		size_t *l = e ? realloc(inv->line, cap * sizeof(*l)) : NULL;
		if (l)
			inv->line = l;
		char **t = l ? realloc(inv->text, 2 * cap * sizeof(*t)) : NULL;
		if (!t) {
			cli_error("out of memory reading %s", file);
			return 1;
		}
		inv->text = t;
		inv->cap = cap;
	}
	struct store_note_edit *e = &inv->e[inv->n];
	*e = (struct store_note_edit){ .ip = r.first };
	if (!(e->name = keep(inv, name)) || (note && !(e->note = keep(inv, note)))) {
		cli_error("out of memory reading %s", file);
		return 1;
	}
	inv->line[inv->n++] = lineno;
	return 0;
}

int inventory_read(struct inventory *inv, const char *file)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
	const char *shown = strcmp(file, "-") ? file : "(stdin)";
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	bool any = false;
	ssize_t len;
	int rc = 0;

	if (!f) {
		cli_error("%s: %s", file, strerror(errno));
		return EXIT_USAGE;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *s = line;
		lineno++;
		while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
			s[--len] = '\0';
		if (lineno == 1 && !strncmp(s, "\xef\xbb\xbf", 3))
			s += 3; /* a spreadsheet's byte order mark */
		s += strspn(s, " \t");
		if (!*s || *s == '#')
			continue;
		bool first_line = !any;
		any = true;
		if (first_line && !strncasecmp(s, "ip,", 3) && strcasestr(s, "name"))
			continue; /* a header line */
		if ((rc = inventory_line(inv, shown, lineno, s)))
			break;
	}
	if (!rc && ferror(f)) {
		cli_error("%s: %s", shown, strerror(errno));
		rc = 1;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (rc)
		return rc;
	if (!inv->n) {
		cli_error("%s: nothing to import: expected lines ip,name,note (see 'lnmt devices --help')", shown);
		return EXIT_USAGE;
	}
	size_t a, b;
	int d = store_note_edits_duplicate(inv->e, inv->n, &a, &b);
	if (d < 0) {
		cli_error("out of memory reading %s", shown);
		return 1;
	}
	if (d) {
		char ip[16];
		cli_error("%s:%zu: %s is on line %zu already: give each address once", shown, inv->line[b],
			  ipv4_format(inv->e[a].ip, ip), inv->line[a]);
		return EXIT_USAGE;
	}
	return 0;
}

