/* SPDX-License-Identifier: MIT */
/* schema.c: encoders and length-checked decoders for every record the store writes. */
#include "schema_int.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Little-endian cursors over a record. A reader that runs past the end sets bad and reads zeros,
 * so a decoder checks once at the end instead of before every field. */
struct wr {
	uint8_t *p;
};
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static void w8(struct wr *w, uint8_t v)
{
	*w->p++ = v;
}

static void w16(struct wr *w, uint16_t v)
{
	v = htole16(v);
	memcpy(w->p, &v, 2);
	w->p += 2;
}

static void w32(struct wr *w, uint32_t v)
{
	v = htole32(v);
	memcpy(w->p, &v, 4);
	w->p += 4;
}

static void w64(struct wr *w, uint64_t v)
{
	v = htole64(v);
	memcpy(w->p, &v, 8);
	w->p += 8;
}

static void wbytes(struct wr *w, const void *src, size_t n)
{
	memcpy(w->p, src, n);
	w->p += n;
}

/* Reserves n bytes for a field: its start, or NULL (and bad) when the record is too short. */
static const uint8_t *rtake(struct rd *r, size_t n)
{
	const uint8_t *p = r->p;

	if ((size_t)(r->end - p) < n) {
		r->bad = true;
		r->p = r->end;
		return NULL;
	}
	r->p += n;
	return p;
}

static uint8_t r8(struct rd *r)
{
	const uint8_t *p = rtake(r, 1);

	return p ? p[0] : 0;
}

static uint16_t r16(struct rd *r)
{
	const uint8_t *p = rtake(r, 2);
	uint16_t v = 0;

	if (p)
		memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t r32(struct rd *r)
{
	const uint8_t *p = rtake(r, 4);
	uint32_t v = 0;

	if (p)
		memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t r64(struct rd *r)
{
	const uint8_t *p = rtake(r, 8);
	uint64_t v = 0;

	if (p)
		memcpy(&v, p, 8);
	return le64toh(v);
}

static void rbytes(struct rd *r, void *dst, size_t n)
{
	const uint8_t *p = rtake(r, n);

	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

static struct rd rd_of(const void *buf, size_t len)
{
	return (struct rd){ .p = buf, .end = (const uint8_t *)buf + len };
}

/* The whole record was consumed, no more and no less. */
static int rd_done(const struct rd *r)
{
	return r->bad || r->p != r->end ? -EBADMSG : 0;
}

/*
 * Device record, schema 1 and 2:
 *   flags u8 (bit 0: has_mac), mac[6], state u8, probes u8, missed u16,
 *   first_seen u64, last_seen u64, last_change u64, last_rtt u32,
 *   probes_total u64, answers_total u64, changes_total u64,
 *   rollup_hour u32, last_sweep u64, last_obs_us u64,            (85 bytes so far)
 *   n_open u16, n_open x port u16,
 *   schema 2 only: vendor_len u8, vendor bytes (no NUL, < STORE_VENDOR_LEN).
 */
size_t schema_device_encode(uint8_t *buf, const struct schema_device *sd, uint32_t version)
{
	const struct store_device *d = &sd->d;
	struct wr w = { buf };
	uint16_t n_open = d->n_open > STORE_MAX_OPEN_PORTS ? STORE_MAX_OPEN_PORTS : d->n_open;

	w8(&w, d->has_mac ? 1 : 0);
	wbytes(&w, d->mac, 6);
	w8(&w, d->state);
	w8(&w, d->probes);
	w16(&w, d->missed);
	w64(&w, d->first_seen_us);
	w64(&w, d->last_seen_us);
	w64(&w, d->last_change_us);
	w32(&w, d->last_rtt_us);
	w64(&w, d->probes_total);
	w64(&w, d->answers_total);
	w64(&w, d->changes_total);
	w32(&w, sd->rollup_hour);
	w64(&w, sd->last_sweep);
	w64(&w, sd->last_obs_us);
	w16(&w, n_open);
	for (uint16_t i = 0; i < n_open; i++)
		w16(&w, d->open_ports[i]);
	if (version >= 2) {
		size_t vlen = strnlen(d->vendor, STORE_VENDOR_LEN - 1);
		w8(&w, (uint8_t)vlen);
		wbytes(&w, d->vendor, vlen);
	}
	return (size_t)(w.p - buf);
}

int schema_device_decode(struct schema_device *out, const void *buf, size_t len, uint32_t version)
{
	struct rd r = rd_of(buf, len);
	struct schema_device sd;
	struct store_device *d = &sd.d;
	uint8_t flags;

	memset(&sd, 0, sizeof(sd));
	flags = r8(&r);
	d->has_mac = flags & 1;
	rbytes(&r, d->mac, 6);
	d->state = r8(&r);
	d->probes = r8(&r);
	d->missed = r16(&r);
	d->first_seen_us = r64(&r);
	d->last_seen_us = r64(&r);
	d->last_change_us = r64(&r);
	d->last_rtt_us = r32(&r);
	d->probes_total = r64(&r);
	d->answers_total = r64(&r);
	d->changes_total = r64(&r);
	sd.rollup_hour = r32(&r);
	sd.last_sweep = r64(&r);
	sd.last_obs_us = r64(&r);
	d->n_open = r16(&r);
	if (flags > 1 || d->state > STORE_STATE_UP || d->n_open > STORE_MAX_OPEN_PORTS)
		return -EBADMSG;
	for (uint16_t i = 0; i < d->n_open; i++)
		d->open_ports[i] = r16(&r);
	if (version >= 2) {
		uint8_t vlen = r8(&r);
		if (vlen >= STORE_VENDOR_LEN)
			return -EBADMSG;
		rbytes(&r, d->vendor, vlen);
		d->vendor[vlen] = '\0';
	}
	if (rd_done(&r))
		return -EBADMSG;
	*out = sd;
	return 0;
}

int schema_device_peek(uint64_t *last_sweep, uint64_t *last_seen_us, const void *buf, size_t len)
{
	struct rd r = rd_of(buf, len);

	/* Only the fields the miss walk needs; the full decode checks the rest when it is read. */
	if (len < SCHEMA_DEVICE_FIXED_LEN)
		return -EBADMSG;
	r.p += 19;
	*last_seen_us = r64(&r);
	r.p += 40;
	*last_sweep = r64(&r);
	return 0;
}

size_t schema_obs_encode(uint8_t buf[SCHEMA_OBS_LEN], const struct schema_obs *o, uint32_t version)
{
	struct wr w = { buf };

	w64(&w, version >= 2 ? o->time_us : o->sweep_id);
	w8(&w, o->state);
	w8(&w, o->probes);
	w32(&w, o->rtt_us);
	return SCHEMA_OBS_LEN;
}

int schema_obs_decode(struct schema_obs *out, const void *buf, size_t len, uint32_t version)
{
	struct rd r = rd_of(buf, len);
	struct schema_obs o = *out;
	uint64_t v = r64(&r);

	if (version >= 2)
		o.time_us = v;
	else
		o.sweep_id = v;
	o.state = r8(&r);
	o.probes = r8(&r);
	o.rtt_us = r32(&r);
	if (rd_done(&r) || o.state > STORE_STATE_UP)
		return -EBADMSG;
	*out = o;
	return 0;
}

size_t schema_totals_encode(uint8_t buf[SCHEMA_ROLLUP_LEN], const struct schema_totals *t)
{
	struct wr w = { buf };

	w64(&w, t->probes);
	w64(&w, t->answers);
	w64(&w, t->changes);
	return SCHEMA_ROLLUP_LEN;
}

int schema_totals_decode(struct schema_totals *out, const void *buf, size_t len)
{
	struct rd r = rd_of(buf, len);
	struct schema_totals t;

	t.probes = r64(&r);
	t.answers = r64(&r);
	t.changes = r64(&r);
	if (rd_done(&r) || t.answers > t.probes)
		return -EBADMSG;
	*out = t;
	return 0;
}

size_t schema_counts_encode(uint8_t buf[SCHEMA_COUNTS_LEN], const struct schema_counts *c)
{
	struct wr w = { buf };

	w64(&w, c->probes);
	w64(&w, c->answers);
	return SCHEMA_COUNTS_LEN;
}

int schema_counts_decode(struct schema_counts *out, const void *buf, size_t len)
{
	struct rd r = rd_of(buf, len);
	struct schema_counts c;

	c.probes = r64(&r);
	c.answers = r64(&r);
	if (rd_done(&r) || c.answers > c.probes)
		return -EBADMSG;
	*out = c;
	return 0;
}

size_t schema_change_encode(uint8_t buf[SCHEMA_CHANGE_LEN], uint8_t state)
{
	buf[0] = state;
	return SCHEMA_CHANGE_LEN;
}

int schema_change_decode(uint8_t *state, const void *buf, size_t len)
{
	if (len != SCHEMA_CHANGE_LEN || ((const uint8_t *)buf)[0] > STORE_STATE_UP)
		return -EBADMSG;
	*state = ((const uint8_t *)buf)[0];
	return 0;
}

/* ---- how sweeps end ---- */

static const char *const end_names[STORE_END_COUNT] = {
	[STORE_END_RUNNING] = "running",         [STORE_END_ALL_ANSWERED] = "all-answered",
	[STORE_END_QUIET] = "quiet",             [STORE_END_WAIT] = "wait-elapsed",
	[STORE_END_STOPPED] = "stopped",         [STORE_END_FAILED] = "failed",
	[STORE_END_INTERRUPTED] = "interrupted",
};

const char *store_sweep_end_name(unsigned ended)
{
	return ended < STORE_END_COUNT ? end_names[ended] : "unknown";
}

int store_sweep_end_parse(const char *name, uint8_t *out)
{
	for (unsigned i = 0; i < STORE_END_COUNT; i++) {
		if (!strcmp(name, end_names[i])) {
			*out = (uint8_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool store_sweep_end_probed_all(unsigned ended)
{
	return ended == STORE_END_ALL_ANSWERED || ended == STORE_END_QUIET || ended == STORE_END_WAIT;
}

uint8_t schema_end_from_v2(uint8_t old, bool finished)
{
	static const uint8_t map[] = { STORE_END_ALL_ANSWERED, STORE_END_WAIT, STORE_END_STOPPED, STORE_END_FAILED };

	/* Schema 2 wrote the record at the start with ended 0 and the end time 0: one that still
	 * has no end was never finished. */
	if (!finished || old >= sizeof(map))
		return STORE_END_INTERRUPTED;
	return map[old];
}

uint8_t schema_end_to_v2(uint8_t ended)
{
	switch (ended) {
	case STORE_END_ALL_ANSWERED: return 0;
	case STORE_END_QUIET:
	case STORE_END_WAIT: return 1;
	case STORE_END_STOPPED:
	case STORE_END_INTERRUPTED: return 2;
	default: return 3;
	}
}

/*
 * Sweep record: id, start_us, end_us u64, probes u8, rate_pps u64, retries u32,
 * addresses, sent, replies, live u64, ended u8 (offset 77), complete u8, new_devices, went_up,
 * went_down u32, schema 3 only: observations u64, pid u32 (98 bytes so far; 86 before), then
 * targets_len u16, ports_len u8, targets bytes, ports bytes (no NULs).
 */
size_t schema_sweep_encode(uint8_t *buf, const struct store_sweep *s, uint32_t version)
{
	struct wr w = { buf };
	size_t tlen = strnlen(s->targets, sizeof(s->targets) - 1);
	size_t plen = strnlen(s->ports, sizeof(s->ports) - 1);

	w64(&w, s->id);
	w64(&w, s->start_us);
	w64(&w, s->end_us);
	w8(&w, s->probes);
	w64(&w, s->rate_pps);
	w32(&w, s->retries);
	w64(&w, s->addresses);
	w64(&w, s->sent);
	w64(&w, s->replies);
	w64(&w, s->live);
	w8(&w, version >= 3 ? s->ended : schema_end_to_v2(s->ended));
	w8(&w, s->complete ? 1 : 0);
	w32(&w, s->new_devices);
	w32(&w, s->went_up);
	w32(&w, s->went_down);
	if (version >= 3) {
		w64(&w, s->observations);
		w32(&w, s->pid);
	}
	w16(&w, (uint16_t)tlen);
	w8(&w, (uint8_t)plen);
	wbytes(&w, s->targets, tlen);
	wbytes(&w, s->ports, plen);
	return (size_t)(w.p - buf);
}

int schema_sweep_decode(struct store_sweep *out, const void *buf, size_t len, uint32_t version)
{
	struct rd r = rd_of(buf, len);
	struct store_sweep s;
	uint8_t complete;
	uint16_t tlen;
	uint8_t plen;

	memset(&s, 0, sizeof(s));
	s.id = r64(&r);
	s.start_us = r64(&r);
	s.end_us = r64(&r);
	s.probes = r8(&r);
	s.rate_pps = r64(&r);
	s.retries = r32(&r);
	s.addresses = r64(&r);
	s.sent = r64(&r);
	s.replies = r64(&r);
	s.live = r64(&r);
	s.ended = r8(&r);
	complete = r8(&r);
	s.complete = complete == 1;
	s.new_devices = r32(&r);
	s.went_up = r32(&r);
	s.went_down = r32(&r);
	if (version >= 3) {
		s.observations = r64(&r);
		s.pid = r32(&r);
	} else {
		s.ended = schema_end_from_v2(s.ended, s.end_us != 0);
	}
	tlen = r16(&r);
	plen = r8(&r);
	if (complete > 1 || tlen >= sizeof(s.targets) || plen >= sizeof(s.ports))
		return -EBADMSG;
	rbytes(&r, s.targets, tlen);
	rbytes(&r, s.ports, plen);
	if (rd_done(&r))
		return -EBADMSG;
	*out = s;
	return 0;
}

size_t schema_u32_encode(uint8_t buf[4], uint32_t v)
{
	struct wr w = { buf };

	w32(&w, v);
	return 4;
}

int schema_u32_decode(uint32_t *out, const void *buf, size_t len)
{
	struct rd r = rd_of(buf, len);
	uint32_t v = r32(&r);

	if (rd_done(&r))
		return -EBADMSG;
	*out = v;
	return 0;
}

size_t schema_u64_encode(uint8_t buf[8], uint64_t v)
{
	struct wr w = { buf };

	w64(&w, v);
	return 8;
}

int schema_u64_decode(uint64_t *out, const void *buf, size_t len)
{
	struct rd r = rd_of(buf, len);
	uint64_t v = r64(&r);

	if (rd_done(&r))
		return -EBADMSG;
	*out = v;
	return 0;
}
