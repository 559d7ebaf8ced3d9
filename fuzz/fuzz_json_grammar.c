/* fuzz_json_grammar.c - libFuzzer target for the "json" byte machine
 * (response_format json_object). Input: any bytes, fed one by one.
 * Contract checked: a text the machine accepts whole is a JSON object cJSON
 * parses; a prefix it took and has not finished always has a next byte (no
 * dead end), so constrained generation can never get stuck. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

#include "hybridflow/grammar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const hflow_byte_machine *m = hflow_json_machine();
    unsigned char st[64], tmp[64];
    if (m->state_size > sizeof st) __builtin_trap();
    m->init(NULL, st);
    size_t taken = 0;
    while (taken < size && m->step(NULL, st, data[taken])) taken++;
    if (m->accepting(NULL, st)) {
        cJSON *j = cJSON_ParseWithLength((const char *)data, taken);
        if (!cJSON_IsObject(j)) __builtin_trap();
        cJSON_Delete(j);
        return 0;
    }
    for (int b = 0; b < 256; b++) {
        memcpy(tmp, st, m->state_size);
        if (m->step(NULL, tmp, (unsigned char)b)) return 0;
    }
    __builtin_trap(); /* a dead end */
}
