/* SPDX-License-Identifier: MIT */
/* output.c: result lines, the progress line and the summary of `lnmt scan`. */
#include "output.h"

#include <string.h>

static const char *const state_names[] = { "up", "open", "closed" };

int output_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return OUT_TEXT;
	if (strcmp(s, "jsonl") == 0 || strcmp(s, "json") == 0)
		return OUT_JSONL;
	if (strcmp(s, "csv") == 0)
		return OUT_CSV;
	return -1;
}

void output_begin(struct output *o)
{
	if (o->format == OUT_CSV)
		fputs("ip,probe,port,state,rtt_us,ttl,mac\n", o->out);
}

static void format_mac(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/*
 * Machine formats are built by hand: the receiver thread writes every result, and printf's
 * format parsing was its largest user-space cost, taken from the cores the senders need.
 */
struct line {
	char buf[256];
	size_t len;
};

static void put_str(struct line *l, const char *s)
{
	size_t n = strlen(s);
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_u32(struct line *l, uint32_t v)
{
	char tmp[10];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		l->buf[l->len++] = tmp[--n];
}

static void put_ip(struct line *l, uint32_t ip)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		put_u32(l, (ip >> shift) & 255);
		if (shift)
			l->buf[l->len++] = '.';
	}
}

static void put_mac(struct line *l, const uint8_t m[6])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 6; i++) {
		if (i)
			l->buf[l->len++] = ':';
		l->buf[l->len++] = hex[m[i] >> 4];
		l->buf[l->len++] = hex[m[i] & 15];
	}
}

static void write_jsonl(FILE *out, const struct sweep_result *r, const char *state)
{
	struct line l = { .len = 0 };

	put_str(&l, "{\"ip\":\"");
	put_ip(&l, r->ip);
	put_str(&l, "\",\"probe\":\"");
	put_str(&l, r->probe->name);
	put_str(&l, "\"");
	if (r->probe->uses_port) {
		put_str(&l, ",\"port\":");
		put_u32(&l, r->port);
	}
	put_str(&l, ",\"state\":\"");
	put_str(&l, state);
	put_str(&l, "\",\"rtt_us\":");
	put_u32(&l, r->rtt_us);
	if (r->has_mac) {
		put_str(&l, ",\"mac\":\"");
		put_mac(&l, r->mac);
		put_str(&l, "\"");
	}
	if (r->ttl) {
		put_str(&l, ",\"ttl\":");
		put_u32(&l, r->ttl);
	}
	put_str(&l, "}\n");
	fwrite(l.buf, 1, l.len, out);
}

static void write_csv(FILE *out, const struct sweep_result *r, const char *state)
{
	struct line l = { .len = 0 };

	put_ip(&l, r->ip);
	l.buf[l.len++] = ',';
	put_str(&l, r->probe->name);
	l.buf[l.len++] = ',';
	if (r->probe->uses_port)
		put_u32(&l, r->port);
	l.buf[l.len++] = ',';
	put_str(&l, state);
	l.buf[l.len++] = ',';
	put_u32(&l, r->rtt_us);
	l.buf[l.len++] = ',';
	if (r->ttl)
		put_u32(&l, r->ttl);
	l.buf[l.len++] = ',';
	if (r->has_mac)
		put_mac(&l, r->mac);
	l.buf[l.len++] = '\n';
	fwrite(l.buf, 1, l.len, out);
}

void output_result(void *ctx, const struct sweep_result *r)
{
	struct output *o = ctx;
	const char *state = state_names[r->state];

	switch (o->format) {
	case OUT_JSONL:
		write_jsonl(o->out, r, state);
		break;
	case OUT_CSV:
		write_csv(o->out, r, state);
		break;
	case OUT_TEXT: {
		char where[24], ip[16], mac[18] = "";
		ipv4_format(r->ip, ip);
		if (r->has_mac)
			format_mac(r->mac, mac);
		if (r->probe->uses_port)
			snprintf(where, sizeof(where), "%s:%u", ip, r->port);
		else
			snprintf(where, sizeof(where), "%s", ip);
		if (o->progress_drawn)
			output_clear_progress(o);
		fprintf(o->out, "%-21s %-4s  %-6s  %8.3f ms", where, r->probe->name, state, r->rtt_us / 1000.0);
		if (r->ttl)
			fprintf(o->out, "  ttl %u", r->ttl);
		if (r->has_mac)
			fprintf(o->out, "  %s", mac);
		fputc('\n', o->out);
		break;
	}
	}
}

void output_clear_progress(struct output *o)
{
	if (o->progress_drawn) {
		fputs("\r\033[K", o->err);
		fflush(o->err);
		o->progress_drawn = false;
	}
}

void output_progress(void *ctx, const struct sweep_progress *p)
{
	struct output *o = ctx;

	if (!o->progress)
		return;
	double secs = p->elapsed_ns / 1e9;
	double done = p->probes ? (double)p->sent_first_pass / (double)p->probes : 1;
	double pps = secs > 0 ? p->sent / secs : 0;
	if (done > 1)
		done = 1;
	fprintf(o->err, "\r\033[K%5.1f%%  %9.0f pps  sent %llu  found %llu", done * 100, pps,
		(unsigned long long)p->sent, (unsigned long long)p->live);
	if (p->pass == 0 && done > 0 && done < 1)
		fprintf(o->err, "  ETA %.1f s", secs / done - secs);
	else if (p->pass > 0)
		fputs(p->pass == 1 ? "  retrying" : "  waiting for replies", o->err);
	fflush(o->err);
	o->progress_drawn = true;
}

static const char *end_name(enum sweep_end e)
{
	switch (e) {
	case SWEEP_END_ALL_ANSWERED: return "all targets answered";
	case SWEEP_END_WAIT: return "wait elapsed";
	case SWEEP_END_STOPPED: return "stopped"; /* as the store says: "interrupted" is a sweep whose process died */
	}
	return "?";
}

void output_summary(struct output *o, const struct sweep_stats *st, bool verbose)
{
	double wall = st->elapsed_ns / 1e9, send = st->send_ns / 1e9;

	output_clear_progress(o);
	fflush(o->out);
	fprintf(o->err,
		"lnmt: %llu targets, %llu probes sent, %llu replies, %llu live in %.3f s "
		"(send rate %.0f pps, tx %s, %s)\n",
		(unsigned long long)st->addresses, (unsigned long long)st->sent,
		(unsigned long long)st->replies, (unsigned long long)st->live, wall,
		send > 0 ? st->sent / send : 0.0, st->tx_name ? st->tx_name : "-", end_name(st->ended));
	if (verbose || st->rx_dropped)
		fprintf(o->err, "lnmt: %llu duplicate replies, %llu dropped by the capture ring\n",
			(unsigned long long)st->duplicates, (unsigned long long)st->rx_dropped);
}
