/* channel.c - an emulated network link between the edge and the cloud.
 *
 * A message of B bytes sent one way costs RTT/2 + B/rate (+- jitter); a lost
 * message costs a retransmission timeout on top; during an outage sending
 * fails. In virtual-time mode nothing sleeps: a clock advances, so tests and
 * benchmark sweeps over many channels run fast and deterministically. Every
 * report that uses it must say the channel was emulated. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "hybridflow/spec.h"

/* "50ms", "0.2s", "2" (seconds) */
static int parse_seconds(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (!strcmp(end, "ms")) v /= 1000.0;
    else if (!strcmp(end, "us")) v /= 1e6;
    else if (*end && strcmp(end, "s")) return -1;
    *out = v;
    return 0;
}

/* "10mbit", "100kbit", "1gbit", "5000" (bytes/s), "1MB" (bytes/s) -> bytes per second */
static int parse_rate(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    if (!strcasecmp(end, "kbit")) v = v * 1e3 / 8;
    else if (!strcasecmp(end, "mbit")) v = v * 1e6 / 8;
    else if (!strcasecmp(end, "gbit")) v = v * 1e9 / 8;
    else if (!strcasecmp(end, "kb")) v *= 1e3;
    else if (!strcasecmp(end, "mb")) v *= 1e6;
    else if (*end) return -1;
    *out = v;
    return 0;
}

int hflow_channel_parse(const char *spec, hflow_channel_config *cfg, hflow_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->rto_s = 0.2;
    cfg->seed = 1;
    if (!spec || !*spec) return 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return hflow_error_set(err, HFLOW_EINVAL, "channel: '%s' is not key=value", tok);
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        int bad = 0;
        if (!strcmp(k, "rtt")) bad = parse_seconds(v, &cfg->rtt_s);
        else if (!strcmp(k, "jitter")) bad = parse_seconds(v, &cfg->jitter_s);
        else if (!strcmp(k, "rto")) bad = parse_seconds(v, &cfg->rto_s);
        else if (!strcmp(k, "up")) bad = parse_rate(v, &cfg->up_bps);
        else if (!strcmp(k, "down")) bad = parse_rate(v, &cfg->down_bps);
        else if (!strcmp(k, "rate")) bad = parse_rate(v, &cfg->up_bps) || parse_rate(v, &cfg->down_bps);
        else if (!strcmp(k, "loss")) {
            char *end;
            cfg->loss = strtod(v, &end);
            bad = *end || cfg->loss < 0 || cfg->loss >= 1;
        } else if (!strcmp(k, "seed")) cfg->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "outage")) {
            char *dash = strchr(v, '-');
            if (!dash || cfg->n_outages >= 8) bad = 1;
            else {
                *dash = '\0';
                hflow_channel_outage *o = &cfg->outages[cfg->n_outages];
                bad = parse_seconds(v, &o->start_s) || parse_seconds(dash + 1, &o->end_s) || o->end_s <= o->start_s;
                if (!bad) cfg->n_outages++;
            }
        } else return hflow_error_set(err, HFLOW_EINVAL, "channel: unknown key '%s'", k);
        if (bad) return hflow_error_set(err, HFLOW_EINVAL, "channel: bad value for '%s'", k);
    }
    return 0;
}

void hflow_channel_init(hflow_channel *ch, const hflow_channel_config *cfg, int virtual_time) {
    memset(ch, 0, sizeof *ch);
    ch->cfg = *cfg;
    ch->rng = hflow_spec_seed(cfg->seed);
    ch->t0 = hflow_now_s();
    ch->virtual_time = virtual_time;
}

double hflow_channel_now(const hflow_channel *ch) {
    return ch->virtual_time ? ch->clock_s : hflow_now_s() - ch->t0;
}

void hflow_channel_spend(hflow_channel *ch, double seconds) {
    if (seconds <= 0) return;
    if (ch->virtual_time) ch->clock_s += seconds;
    else hflow_sleep_ms(seconds * 1000.0);
}

int hflow_channel_is_down(const hflow_channel *ch) {
    double t = hflow_channel_now(ch);
    for (int i = 0; i < ch->cfg.n_outages; i++)
        if (t >= ch->cfg.outages[i].start_s && t < ch->cfg.outages[i].end_s) return 1;
    return 0;
}

int hflow_channel_transfer(hflow_channel *ch, int up, size_t bytes, hflow_error *err) {
    if (hflow_channel_is_down(ch))
        return hflow_error_set(err, HFLOW_ENET, "link down (emulated outage at t=%.3fs)", hflow_channel_now(ch));
    double rate = up ? ch->cfg.up_bps : ch->cfg.down_bps;
    double d = ch->cfg.rtt_s / 2 + (rate > 0 ? (double)bytes / rate : 0.0);
    if (ch->cfg.jitter_s > 0) d += (hflow_spec_rand(&ch->rng) * 2 - 1) * ch->cfg.jitter_s;
    while (ch->cfg.loss > 0 && hflow_spec_rand(&ch->rng) < ch->cfg.loss) d += ch->cfg.rto_s;
    hflow_channel_spend(ch, fmax(0.0, d));
    return 0;
}
