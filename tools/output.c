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

void output_result(void *ctx, const struct sweep_result *r)
{
	struct output *o = ctx;
	char ip[16], mac[18] = "";
	const char *state = state_names[r->state];

	ipv4_format(r->ip, ip);
	if (r->has_mac)
		format_mac(r->mac, mac);
	switch (o->format) {
	case OUT_JSONL:
		fprintf(o->out, "{\"ip\":\"%s\",\"probe\":\"%s\"", ip, r->probe->name);
		if (r->probe->uses_port)
			fprintf(o->out, ",\"port\":%u", r->port);
		fprintf(o->out, ",\"state\":\"%s\",\"rtt_us\":%u", state, r->rtt_us);
		if (r->has_mac)
			fprintf(o->out, ",\"mac\":\"%s\"", mac);
		if (r->ttl)
			fprintf(o->out, ",\"ttl\":%u", r->ttl);
		fputs("}\n", o->out);
		break;
	case OUT_CSV:
		fprintf(o->out, "%s,%s,", ip, r->probe->name);
		if (r->probe->uses_port)
			fprintf(o->out, "%u", r->port);
		fprintf(o->out, ",%s,%u,", state, r->rtt_us);
		if (r->ttl)
			fprintf(o->out, "%u", r->ttl);
		fprintf(o->out, ",%s\n", mac);
		break;
	case OUT_TEXT: {
		char where[24];
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
	case SWEEP_END_STOPPED: return "interrupted";
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
