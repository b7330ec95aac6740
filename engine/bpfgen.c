/* SPDX-License-Identifier: MIT */
/*
 * bpfgen.c: a build-time tool that writes sweep_filters.c, the capture filter of every ordered
 * choice of distinct probes compiled by libpcap exactly as io/rx.c compiles one, for Ethernet
 * frames and (without ARP) for IPv4 packets (see sweep_filter.h). Usage: bpfgen OUTPUT.c
 */
#include "rx.h"
#include "sweep_filter.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

/* sweep_filter.c's lookup reads the table this tool writes; here there is none yet. */
const struct sweep_filter_prog sweep_filter_progs[1];
const size_t sweep_filter_count = 0;

static const struct probe_ops *const all[] = { &probe_arp, &probe_icmp, &probe_syn };
#define N_ALL (sizeof(all) / sizeof(all[0]))

struct gen {
	FILE *out;
	pcap_t *dead, *dead_ip; /* Ethernet frames; IPv4 packets */
	unsigned n;             /* programs written */
	char texts[64][512];    /* their filter texts, for the table */
	unsigned lens[64];
	bool ip[64];
};

static int emit_one(struct gen *g, const struct probe_ops *const *probes, unsigned n, bool ip)
{
	struct bpf_program prog;
	char *text = g->texts[g->n];
	pcap_t *dead = ip ? g->dead_ip : g->dead;

	if (g->n == 64 || sweep_filter_text(probes, n, text, sizeof(g->texts[0]))) {
		fprintf(stderr, "bpfgen: too many filters, or one too long\n");
		return 1;
	}
	if (pcap_compile(dead, &prog, text, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		fprintf(stderr, "bpfgen: pcap_compile(\"%s\"): %s\n", text, pcap_geterr(dead));
		return 1;
	}
	fprintf(g->out, "static const struct sock_filter p%u[] = {\n", g->n);
	for (unsigned i = 0; i < prog.bf_len; i++) {
		const struct bpf_insn *x = &prog.bf_insns[i];
		fprintf(g->out, "\t{ 0x%04x, %u, %u, 0x%08x },\n", x->code, x->jt, x->jf, x->k);
	}
	fprintf(g->out, "};\n");
	g->ip[g->n] = ip;
	g->lens[g->n++] = prog.bf_len;
	pcap_freecode(&prog);
	return 0;
}

/* The Ethernet program of probes, and the IPv4 one when no probe is ARP. */
static int emit(struct gen *g, const struct probe_ops *const *probes, unsigned n)
{
	bool arp = false;

	for (unsigned i = 0; i < n; i++)
		arp |= probes[i] == &probe_arp;
	return emit_one(g, probes, n, false) || (!arp && emit_one(g, probes, n, true));
}

/* Every ordered choice of distinct probes, extending chosen[0..depth-1]. */
static int walk(struct gen *g, const struct probe_ops **chosen, unsigned depth, unsigned used)
{
	for (unsigned i = 0; i < N_ALL; i++) {
		if (used & (1u << i))
			continue;
		chosen[depth] = all[i];
		if (emit(g, chosen, depth + 1) || (depth + 1 < N_ALL && walk(g, chosen, depth + 1, used | 1u << i)))
			return 1;
	}
	return 0;
}

static void put_c_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

int main(int argc, char **argv)
{
	static struct gen g;
	const struct probe_ops *chosen[N_ALL];

	if (argc != 2) {
		fprintf(stderr, "usage: bpfgen OUTPUT.c\n");
		return 2;
	}
	if (!(g.out = fopen(argv[1], "w")) || !(g.dead = pcap_open_dead(DLT_EN10MB, RX_SNAPLEN)) ||
	    !(g.dead_ip = pcap_open_dead(DLT_RAW, RX_SNAPLEN - 14))) {
		fprintf(stderr, "bpfgen: cannot write %s\n", argv[1]);
		return 1;
	}
	fprintf(g.out, "/* SPDX-License-Identifier: MIT */\n"
		       "/* sweep_filters.c: written by bpfgen at build time (engine/bpfgen.c); do not edit. */\n"
		       "#include \"sweep_filter.h\"\n\n");
	if (walk(&g, chosen, 0, 0))
		return 1;
	fprintf(g.out, "\nconst struct sweep_filter_prog sweep_filter_progs[] = {\n");
	for (unsigned i = 0; i < g.n; i++) {
		fputc('\t', g.out);
		fputc('{', g.out);
		fputc(' ', g.out);
		put_c_string(g.out, g.texts[i]);
		fprintf(g.out, ", %s, %u, p%u },\n", g.ip[i] ? "true" : "false", g.lens[i], i);
	}
	fprintf(g.out, "};\n\nconst size_t sweep_filter_count = %u;\n", g.n);
	pcap_close(g.dead);
	pcap_close(g.dead_ip);
	if (fclose(g.out)) {
		fprintf(stderr, "bpfgen: cannot write %s\n", argv[1]);
		return 1;
	}
	return 0;
}
