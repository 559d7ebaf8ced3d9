/* openai_embeddings.c - the /embeddings wire format: request body and
 * response parsing (openai_wire.h). Pure functions over JSON text. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "backend/openai_wire.h"
#include "base/base64.h"

char *hflow_openai_embeddings_body(const char *const *texts, int n, const char *model) {
    cJSON *o = cJSON_CreateObject();
    if (model && *model) cJSON_AddStringToObject(o, "model", model);
    cJSON *in = cJSON_AddArrayToObject(o, "input");
    for (int i = 0; in && i < n; i++) cJSON_AddItemToArray(in, cJSON_CreateString(texts[i]));
    cJSON_AddStringToObject(o, "encoding_format", "float");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* One item's vector into row `row` of out (allocating out->data on the first). */
static int take_vector(const cJSON *v, int row, int n, hflow_embeddings *out, hflow_error *err) {
    float *tmp = NULL;
    int dim = 0;
    if (cJSON_IsString(v)) {
        size_t bytes = 0;
        tmp = (float *)hflow_base64_decode(v->valuestring, strlen(v->valuestring), &bytes);
        if (!tmp || bytes % sizeof(float) || bytes == 0) {
            free(tmp);
            return hflow_error_set(err, HFLOW_EFORMAT, "embeddings: bad base64 vector at index %d", row);
        }
        dim = (int)(bytes / sizeof(float));
    } else if (cJSON_IsArray(v) && (dim = cJSON_GetArraySize(v)) > 0) {
        tmp = malloc((size_t)dim * sizeof *tmp);
        if (!tmp) return hflow_error_set(err, HFLOW_ENOMEM, "embeddings: out of memory");
        int k = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsNumber(e)) {
                free(tmp);
                return hflow_error_set(err, HFLOW_EFORMAT, "embeddings: non-number in vector %d", row);
            }
            tmp[k++] = (float)e->valuedouble;
        }
    } else {
        return hflow_error_set(err, HFLOW_EFORMAT, "embeddings: item %d has no embedding", row);
    }
    if (!out->data) {
        out->dim = dim;
        out->data = calloc((size_t)n * (size_t)dim, sizeof *out->data);
        if (!out->data) {
            free(tmp);
            return hflow_error_set(err, HFLOW_ENOMEM, "embeddings: out of memory");
        }
    }
    int rc = 0;
    if (dim != out->dim) rc = hflow_error_set(err, HFLOW_EFORMAT, "embeddings: vector %d has %d values, not %d", row, dim, out->dim);
    else memcpy(out->data + (size_t)row * dim, tmp, (size_t)dim * sizeof *tmp);
    free(tmp);
    return rc;
}

int hflow_openai_parse_embeddings(const char *body, size_t len, int n, hflow_embeddings *out, hflow_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *data = root ? cJSON_GetObjectItemCaseSensitive(root, "data") : NULL;
    int rc = 0;
    if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) != n)
        rc = hflow_error_set(err, HFLOW_EFORMAT, "embeddings: expected a data array of %d items", n);
    unsigned char *seen = rc ? NULL : calloc((size_t)n, 1);
    if (!rc && !seen) rc = hflow_error_set(err, HFLOW_ENOMEM, "embeddings: out of memory");
    int pos = 0;
    const cJSON *item;
    const cJSON *items = rc ? NULL : data;
    cJSON_ArrayForEach(item, items) {
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
        int row = cJSON_IsNumber(ix) ? ix->valueint : pos; /* index is optional in some servers */
        if (row < 0 || row >= n || seen[row]) {
            rc = hflow_error_set(err, HFLOW_EFORMAT, "embeddings: bad or repeated index %d", row);
            break;
        }
        seen[row] = 1;
        pos++;
        if ((rc = take_vector(cJSON_GetObjectItemCaseSensitive(item, "embedding"), row, n, out, err))) break;
    }
    const cJSON *u = root ? cJSON_GetObjectItemCaseSensitive(root, "usage") : NULL;
    const cJSON *pt = u ? cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens") : NULL;
    if (!rc && cJSON_IsNumber(pt)) out->prompt_tokens = pt->valueint;
    out->n = rc ? 0 : n;
    if (rc) hflow_embeddings_clear(out);
    free(seen);
    cJSON_Delete(root);
    return rc;
}
