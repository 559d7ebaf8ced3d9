/* transport_inproc.c - a target model in the same process, reached through an
 * emulated channel. Message sizes are those of the real HTTP protocol's JSON
 * bodies plus typical header overhead, so the channel sees realistic bytes.
 * An optional target-speed emulation replaces the measured forward time (to
 * stand in for a larger cloud model); reports must label it as emulated. */
#include <stdio.h>
#include <stdlib.h>

#include "base/strbuf.h"
#include "hybridflow/engine.h"
#include "hybridflow/spec.h"
#include "spec/spec_wire.h"

#define HTTP_OVERHEAD_UP 220   /* request line + headers of a small POST */
#define HTTP_OVERHEAD_DOWN 160 /* status line + headers */

typedef struct {
    hflow_model *model;
    hflow_channel *channel;
    int has_emu;
    hflow_spec_target_emulation emu;
    hflow_spec_target *target;
} inproc;

static int inproc_open(hflow_spec_transport *t, const int32_t *prompt, int32_t n, const hflow_spec_params *p,
                       hflow_spec_session_info *info, hflow_error *err) {
    inproc *ip = t->impl;
    hflow_spec_target_free(ip->target);
    ip->target = NULL;
    if (ip->channel) {
        int rc = hflow_channel_transfer(ip->channel, 1, HTTP_OVERHEAD_UP + 8 * (size_t)n, err);
        if (rc) return rc;
    }
    int rc = hflow_spec_target_create(ip->model, prompt, n, p, &ip->target, err);
    if (rc) return rc;
    if (ip->channel && (rc = hflow_channel_transfer(ip->channel, 0, HTTP_OVERHEAD_DOWN + 200, err))) return rc;
    if (info) {
        snprintf(info->session_id, sizeof info->session_id, "inproc");
        snprintf(info->model, sizeof info->model, "%s", hflow_model_get_info(ip->model)->name);
        info->tokenizer_fp = hflow_vocab_fingerprint(hflow_model_vocab(ip->model));
    }
    return 0;
}

static int inproc_verify(hflow_spec_transport *t, const int32_t *draft, int32_t k, const hflow_spec_draft_dist *q,
                         hflow_spec_verdict *out, double *t_verify_s, int32_t *bytes_up, int32_t *bytes_down,
                         hflow_error *err) {
    inproc *ip = t->impl;
    if (!ip->target) return hflow_error_set(err, HFLOW_ESTATE, "spec transport: no open session");
    hflow_strbuf b;
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_verify_request(&b, draft, k, q);
    int32_t up = HTTP_OVERHEAD_UP + (int32_t)b.len;
    hflow_strbuf_free(&b);
    int rc = ip->channel ? hflow_channel_transfer(ip->channel, 1, (size_t)up, err) : 0;
    double fwd = 0;
    if (!rc) rc = hflow_spec_target_verify(ip->target, draft, k, q, out, &fwd, err);
    if (rc) return rc;
    double real = fwd;
    if (ip->has_emu) fwd = ip->emu.base_s + ip->emu.per_token_s * (k + 1);
    /* put the target's time on the channel clock: all of it in virtual time;
     * in real time the forward already ran, so only the emulated excess */
    if (ip->channel) hflow_channel_spend(ip->channel, ip->channel->virtual_time ? fwd : fwd - real);
    hflow_strbuf_init(&b);
    hflow_spec_wire_put_verify_response(&b, out, fwd, hflow_spec_target_n_tokens(ip->target));
    int32_t down = HTTP_OVERHEAD_DOWN + (int32_t)b.len;
    hflow_strbuf_free(&b);
    if (ip->channel && (rc = hflow_channel_transfer(ip->channel, 0, (size_t)down, err))) return rc;
    if (t_verify_s) *t_verify_s = fwd;
    if (bytes_up) *bytes_up = up;
    if (bytes_down) *bytes_down = down;
    return 0;
}

/* k = 0: the target streams tokens. The stream is a pipeline: the request
 * goes up (half an RTT), then each token costs the slower of its generation
 * and its SSE event's download, and the last one arrives half an RTT later. */
typedef struct gen_relay {
    inproc *ip;
    hflow_spec_token_cb on_token;
    void *user;
    int32_t bytes_down;
    double fwd_s;
    int rc;
    hflow_error *err;
} gen_relay;

static int relay_token(void *user, int32_t tok, double real_s) {
    gen_relay *g = user;
    inproc *ip = g->ip;
    double fwd = ip->has_emu ? ip->emu.base_s + ip->emu.per_token_s : real_s;
    char ev[96];
    int n = snprintf(ev, sizeof ev, "data: {\"token\":%d,\"ms\":%.3f}\n\n", tok, fwd * 1000.0);
    int32_t bytes = n + 8; /* + chunked-encoding framing */
    g->bytes_down += bytes;
    g->fwd_s += fwd;
    if (ip->channel) {
        if (hflow_channel_is_down(ip->channel)) {
            g->rc = hflow_error_set(g->err, HFLOW_ENET, "link down during the stream (emulated outage at t=%.3fs)",
                                    hflow_channel_now(ip->channel));
            return 1;
        }
        double rate = ip->channel->cfg.down_bps;
        double step = fwd;
        if (rate > 0 && bytes / rate > step) step = bytes / rate;
        hflow_channel_spend(ip->channel, ip->channel->virtual_time ? step : step - real_s);
    }
    return g->on_token ? g->on_token(g->user, tok, fwd) : 0;
}

static int inproc_generate(hflow_spec_transport *t, int32_t n, hflow_spec_token_cb on_token, void *user,
                           int32_t *n_got, double *t_gen_s, int32_t *bytes_up, int32_t *bytes_down, hflow_error *err) {
    inproc *ip = t->impl;
    if (!ip->target) return hflow_error_set(err, HFLOW_ESTATE, "spec transport: no open session");
    char body[48];
    int32_t up = HTTP_OVERHEAD_UP + snprintf(body, sizeof body, "{\"n\":%d}", n);
    int rc = ip->channel ? hflow_channel_transfer(ip->channel, 1, (size_t)up, err) : 0;
    if (rc) return rc;
    gen_relay g = {ip, on_token, user, HTTP_OVERHEAD_DOWN, 0, 0, err};
    int32_t got = 0;
    double real = 0;
    rc = hflow_spec_target_generate(ip->target, n, relay_token, &g, &got, &real, err);
    if (!rc) rc = g.rc;
    if (n_got) *n_got = got;
    if (t_gen_s) *t_gen_s = g.fwd_s;
    if (bytes_up) *bytes_up = up;
    if (bytes_down) *bytes_down = g.bytes_down + 60; /* + the summary event */
    if (rc) return rc;
    /* the last event's latency (and the response head), as one more message */
    if (ip->channel) rc = hflow_channel_transfer(ip->channel, 0, (size_t)HTTP_OVERHEAD_DOWN + 60, err);
    return rc;
}

static void inproc_close(hflow_spec_transport *t) {
    inproc *ip = t->impl;
    hflow_spec_target_free(ip->target);
    ip->target = NULL;
}

static void inproc_destroy(hflow_spec_transport *t) {
    inproc_close(t);
    free(t->impl);
    free(t);
}

static const hflow_spec_transport_vtable inproc_vt = {"inproc", inproc_open, inproc_verify, inproc_close, inproc_destroy,
                                                       inproc_generate};

int hflow_spec_transport_inproc(hflow_model *target, hflow_channel *channel, const hflow_spec_target_emulation *emu,
                                hflow_spec_transport **out, hflow_error *err) {
    hflow_spec_transport *t = calloc(1, sizeof *t);
    inproc *ip = calloc(1, sizeof *ip);
    if (!t || !ip) {
        free(t);
        free(ip);
        return hflow_error_set(err, HFLOW_ENOMEM, "out of memory");
    }
    ip->model = target;
    ip->channel = channel;
    if (emu) {
        ip->has_emu = 1;
        ip->emu = *emu;
    }
    t->vt = &inproc_vt;
    t->impl = ip;
    *out = t;
    return 0;
}
