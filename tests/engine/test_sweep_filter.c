/* SPDX-License-Identifier: MIT */
/* test_sweep_filter.c: the filters compiled at build time are what libpcap compiles now, for every probe combination. */
#include "rx.h"
#include "sweep_filter.h"

#include <criterion/criterion.h>

#include <pcap/pcap.h>
#include <string.h>

static const struct probe_ops *const all[] = { &probe_arp, &probe_icmp, &probe_syn };

/* Checks every ordered choice of distinct probes that extends chosen[0..depth-1]; returns how
 * many there were. */
static unsigned check_choices(const struct probe_ops **chosen, unsigned depth, unsigned used)
{
	char text[512];
	unsigned n = 0;

	for (unsigned i = 0; i < 3; i++) {
		if (used & (1u << i))
			continue;
		chosen[depth] = all[i];
		cr_assert_eq(sweep_filter_text(chosen, depth + 1, text, sizeof(text)), 0);
		cr_expect_not_null(sweep_filter_find(text, false), "no program for '%s'", text);
		bool arp = false;
		for (unsigned k = 0; k <= depth; k++)
			arp |= chosen[k] == &probe_arp;
		if (!arp)
			cr_expect_not_null(sweep_filter_find(text, true), "no IPv4 program for '%s'", text);
		n += 1 + check_choices(chosen, depth + 1, used | 1u << i);
	}
	return n;
}

Test(sweep_filter, every_probe_combination_is_precompiled)
{
	const struct probe_ops *chosen[3];

	cr_expect_eq(check_choices(chosen, 0, 0), 15, "3 + 6 + 6 ordered choices");
	/* And for IPv4 packets the 2 + 2 choices of ICMP and SYN (ARP is no IPv4 packet). */
	cr_expect_eq(sweep_filter_count, 15 + 4);
	cr_expect_null(sweep_filter_find("udp", false));
	cr_expect_null(sweep_filter_find("(arp[6:2] == 2)", true));
}

Test(sweep_filter, the_table_matches_libpcap)
{
	pcap_t *eth = pcap_open_dead(DLT_EN10MB, RX_SNAPLEN), *raw = pcap_open_dead(DLT_RAW, RX_SNAPLEN - 14);

	cr_assert(eth && raw);
	for (size_t i = 0; i < sweep_filter_count; i++) {
		const struct sweep_filter_prog *t = &sweep_filter_progs[i];
		pcap_t *dead = t->ip ? raw : eth;
		struct bpf_program prog;
		cr_assert_eq(pcap_compile(dead, &prog, t->text, 1, PCAP_NETMASK_UNKNOWN), 0, "'%s': %s", t->text,
			     pcap_geterr(dead));
		cr_expect_eq(prog.bf_len, t->len, "'%s': %u instructions now, %u in the table", t->text, prog.bf_len,
			     t->len);
		cr_expect(prog.bf_len == t->len && memcmp(prog.bf_insns, t->insns, t->len * sizeof(*t->insns)) == 0,
			  "'%s': the table's program differs from libpcap's", t->text);
		pcap_freecode(&prog);
	}
	pcap_close(eth);
	pcap_close(raw);
}

Test(sweep_filter, text_is_the_probes_or_ed)
{
	const struct probe_ops *p[2] = { &probe_icmp, &probe_arp };
	char text[512], tiny[8];

	cr_assert_eq(sweep_filter_text(p, 2, text, sizeof(text)), 0);
	cr_expect_str_eq(text, "(icmp[icmptype] == icmp-echoreply) or (arp[6:2] == 2)");
	cr_expect_neq(sweep_filter_text(p, 2, tiny, sizeof(tiny)), 0, "a short buffer is refused");
}
