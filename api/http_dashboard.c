/* SPDX-License-Identifier: MIT */
/*
 * http_dashboard.c: the page at / (api/dashboard.html, embedded at build time, with the report's
 * stylesheet from report_html.c inserted at its marker). The page is a shell without data, so it
 * is served without a token; its script fetches everything else from the API with the token it
 * finds in the address (/#token=...).
 */
#include "http_int.h"
#include "report_html.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char http_dashboard_html[];
extern const size_t http_dashboard_html_len;

static pthread_once_t page_once = PTHREAD_ONCE_INIT;
static struct MHD_Response *page;
static char page_etag[24];

static void build_page(void)
{
	static const char marker[] = "<!--lnmt:style-->";
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return;
	const char *at = strstr(http_dashboard_html, marker);
	size_t head = at ? (size_t)(at - http_dashboard_html) : 0;
	fwrite(http_dashboard_html, 1, head, f);
	if (at)
		report_html_style(f);
	fputs(http_dashboard_html + head + (at ? sizeof(marker) - 1 : 0), f);
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	http_etag(text, len, page_etag);
	page = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!page) {
		free(text);
		return;
	}
	MHD_add_response_header(page, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	MHD_add_response_header(page, MHD_HTTP_HEADER_ETAG, page_etag);
	MHD_add_response_header(page, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	/* the page loads nothing from elsewhere, and nothing else may frame it */
	MHD_add_response_header(page, "Content-Security-Policy",
				"default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
				"img-src 'self' data:; frame-ancestors 'none'");
	MHD_add_response_header(page, "X-Content-Type-Options", "nosniff");
}

enum MHD_Result http_dashboard(struct MHD_Connection *c, struct req *r)
{
	pthread_once(&page_once, build_page);
	if (!page)
		return http_send_error(c, r, 500, NULL, "the dashboard page could not be built");
	return http_send_prepared(c, r, 200, page, page_etag);
}

void http_dashboard_free(void)
{
	if (page)
		MHD_destroy_response(page);
	page = NULL;
}
