/* device_profile.c - the edge device's energy model (defaults and JSON profiles). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hybridflow/spec.h"

/* Defaults: a phone-class SoC drafting on its big cores (~3 W), idling at
 * ~0.4 W with the radio on, and LTE-like radio energy per byte (tx costs more
 * than rx). Rough public figures; a profile file replaces them. */
void hflow_device_profile_default(hflow_device_profile *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "default-phone");
    p->p_draft_w = 3.0;
    p->p_idle_w = 0.4;
    p->e_tx_j_per_byte = 2.0e-6;
    p->e_rx_j_per_byte = 0.8e-6;
}

static int read_number(const cJSON *root, const char *key, double *out, hflow_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return 0; /* keep the default */
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        return hflow_error_set(err, HFLOW_EINVAL, "device profile: '%s' must be a non-negative number", key);
    *out = v->valuedouble;
    return 0;
}

int hflow_device_profile_load(const char *path, hflow_device_profile *p, hflow_error *err) {
    hflow_device_profile_default(p);
    FILE *f = fopen(path, "rb");
    if (!f) return hflow_error_set(err, HFLOW_EIO, "cannot open device profile '%s'", path);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hflow_error_set(err, HFLOW_EINVAL, "device profile '%s' is not a JSON object", path);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (cJSON_IsString(name)) snprintf(p->name, sizeof p->name, "%s", name->valuestring);
    int rc = read_number(root, "p_draft_w", &p->p_draft_w, err);
    if (!rc) rc = read_number(root, "p_idle_w", &p->p_idle_w, err);
    if (!rc) rc = read_number(root, "e_tx_j_per_byte", &p->e_tx_j_per_byte, err);
    if (!rc) rc = read_number(root, "e_rx_j_per_byte", &p->e_rx_j_per_byte, err);
    cJSON_Delete(root);
    return rc;
}
