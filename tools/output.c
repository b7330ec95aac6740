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
	pthread_mutex_init(&o->lock, NULL);
	if (o->format == OUT_CSV)
		fputs("ip,probe,port,state,rtt_us,ttl,mac\n", o->out);
}

static void format_mac(const uint8_t m[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/*
 * Machine formats are built by hand: printf's format parsing was the largest user-space cost of
 * writing results, taken from the cores the senders need.
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
		if (o->progress)
			pthread_mutex_lock(&o->lock);
		if (o->progress_drawn)
			output_clear_progress(o);
		fprintf(o->out, "%-21s %-4s  %-6s  %8.3f ms", where, r->probe->name, state, r->rtt_us / 1000.0);
		if (r->ttl)
			fprintf(o->out, "  ttl %u", r->ttl);
		if (r->has_mac)
			fprintf(o->out, "  %s", mac);
		fputc('\n', o->out);
		if (o->progress)
			pthread_mutex_unlock(&o->lock);
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

/* 1234 -> "1234", 19000 -> "19k", 1400000 -> "1.4M": rates as people say them. */
static const char *fmt_rate(double v, char buf[16])
{
	if (v >= 1e6)
		snprintf(buf, 16, "%.1fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, 16, "%.0fk", v / 1e3);
	else
		snprintf(buf, 16, "%.0f", v);
	return buf;
}

void output_progress(void *ctx, const struct sweep_progress *p)
{
	struct output *o = ctx;
	char r1[16];

	if (!o->progress)
		return;
	double secs = p->elapsed_ns / 1e9;
	double done = p->probes ? (double)p->sent_first_pass / (double)p->probes : 1;
	double pps = secs > 0 ? p->sent / secs : 0;
	if (done > 1)
		done = 1;
	pthread_mutex_lock(&o->lock);
	fprintf(o->err, "\r\033[K%5.1f%%  %9.0f pps  sent %llu  found %llu", done * 100, pps,
		(unsigned long long)p->sent, (unsigned long long)p->live);
	switch (p->phase) {
	case SWEEP_PHASE_SENDING:
		if (done > 0 && done < 1)
			fprintf(o->err, "  ETA %.1f s", secs / done - secs);
		break;
	case SWEEP_PHASE_RETRYING: fprintf(o->err, "  retry %u", p->pass); break;
	case SWEEP_PHASE_WAITING: fputs("  waiting for replies", o->err); break;
	case SWEEP_PHASE_DELIVERING:
		fprintf(o->err, "  writing %llu queued results", (unsigned long long)p->queued);
		break;
	}
	if (p->slowed_pps)
		fprintf(o->err, "  slowed to %s pps for the path", fmt_rate((double)p->slowed_pps, r1));
	if (p->held_back)
		fprintf(o->err, "  held back: output slower than the network (%llu queued)",
			(unsigned long long)p->queued);
	fflush(o->err);
	o->progress_drawn = true;
	pthread_mutex_unlock(&o->lock);
}

static void fmt_ms(uint64_t ns, char buf[24])
{
	double ms = ns / 1e6;
	snprintf(buf, 24, ms < 10 ? "%.1f ms" : ms < 10000 ? "%.0f ms" : "%.1f s", ms < 10000 ? ms : ms / 1000);
}

/* Why the sweep ended and what its retries found, in one line. */
static void summary_end(const struct output *o, const struct sweep_stats *st)
{
	char a[24], b[24];

	fputs("lnmt: ended: ", o->err);
	switch (st->ended) {
	case SWEEP_END_ALL_ANSWERED: fputs("every probe answered", o->err); break;
	case SWEEP_END_QUIET:
		fmt_ms(st->quiet_ns, a);
		fmt_ms(st->rtt_high_ns, b);
		if (st->stragglers)
			fprintf(o->err, "listened %s after the last probe for the %llu silent of a dense network "
					"(p99.9 RTT %s)", a, (unsigned long long)(st->probes - st->replies), b);
		else if (st->rtt_high_ns)
			fprintf(o->err, "the network went quiet: no reply for %s after the last probe (p99.9 RTT %s)", a, b);
		else
			fprintf(o->err, "nothing answered for %s after the last probe", a);
		break;
	case SWEEP_END_WAIT:
		fmt_ms(o->wait_ns, a);
		fprintf(o->err, "the --wait of %s after the last probe ran out", a);
		break;
	case SWEEP_END_STOPPED: fputs("stopped", o->err); break; /* "interrupted": a sweep whose process died */
	}
	fprintf(o->err, "; %u pass%s", st->passes, st->passes == 1 ? "" : "es");
	if (st->loss_measured && st->ended != SWEEP_END_ALL_ANSWERED && st->ended != SWEEP_END_STOPPED) {
		if (st->missed >= 0.5 && st->passes > o->retries)
			fprintf(o->err, " (--retries %u reached: loss %.1f%%, ~%.0f live still missed)", o->retries,
				st->loss * 100, st->missed);
		else
			fprintf(o->err, " (loss %.1f%%: retries stopped paying)", st->loss * 100);
	}
	fputc('\n', o->err);
}

void output_summary(struct output *o, const struct sweep_stats *st, bool verbose)
{
	double wall = st->elapsed_ns / 1e9, send = st->send_ns / 1e9;
	char r1[16], r2[16];

	output_clear_progress(o);
	fflush(o->out);
	fprintf(o->err,
		"lnmt: %llu targets, %llu probes sent, %llu replies, %llu live in %.3f s "
		"(send rate %s pps, tx %s)\n",
		(unsigned long long)st->addresses, (unsigned long long)st->sent,
		(unsigned long long)st->replies, (unsigned long long)st->live, wall,
		fmt_rate(send > 0 ? st->sent / send : 0.0, r1), st->tx_name ? st->tx_name : "-");
	if (st->tx_name && strcmp(st->tx_name, "null") != 0)
		summary_end(o, st); /* a dry run listened for nothing */
	if (st->slowed_pps)
		fprintf(o->err, "lnmt: rate: %.0f%% of the probes to live hosts were lost at %s pps, so the path "
				"drops what it gets beyond its rate: pass %u on went at %s pps\n",
			st->slowed_loss * 100, fmt_rate((double)st->first_rate_pps, r1), st->slowed_pass + 1,
			fmt_rate((double)st->slowed_pps, r2));
	uint64_t held = st->held_back_ns / (st->senders ? st->senders : 1);
	char h[24];
	fmt_ms(held, h);
	if (held >= 1000000 || verbose)
		fprintf(o->err, "lnmt: the output %s: senders held back %s, at most %llu results "
				"(%.1f MiB) queued%s\n",
			held >= 1000000 ? "was slower than the network" : "kept up", h,
			(unsigned long long)st->queue_peak, st->queue_peak_bytes / 1048576.0,
			st->lost ? "" : ", no reply lost");
	if (st->lost)
		fprintf(o->err, "lnmt: %llu results lost: out of memory for the result queue\n",
			(unsigned long long)st->lost);
	for (unsigned i = 0; verbose && i < st->passes; i++) {
		const struct pass_stat *p = &st->pass[i];
		fprintf(o->err, "lnmt: pass %u at %.3f s: %llu probes in %.3f s (%s pps%s), %llu answered", i + 1,
			p->start_ns / 1e9, (unsigned long long)p->sent, p->send_ns / 1e9,
			fmt_rate((double)p->rate_pps, r1), p->paced ? ", paced" : "", (unsigned long long)p->found);
		if (p->gap_ns)
			fprintf(o->err, ", then quiet %.1f ms (high RTT %.1f ms)", p->gap_ns / 1e6, p->rtt_high_ns / 1e6);
		fputc('\n', o->err);
	}
	if (verbose || st->rx_dropped)
		fprintf(o->err, "lnmt: %llu duplicate replies, %llu dropped by the capture ring; the senders stepped "
				"aside %llu times for a receiver short of CPU\n",
			(unsigned long long)st->duplicates, (unsigned long long)st->rx_dropped,
			(unsigned long long)st->rx_yields);
}
