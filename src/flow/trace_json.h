/* trace_json.h - the JSON form of one call record, as the JSONL trace writes
 * it. Shared with the server's virtual model, whose response extension
 * carries the same records, so the two can never drift apart. */
#ifndef HFLOW_FLOW_TRACE_JSON_H
#define HFLOW_FLOW_TRACE_JSON_H
#include <cJSON.h>

#include "hybridflow/flow.h"

/* A new cJSON object (caller owns it); NULL on allocation failure. */
cJSON *hflow_trace_call_json(const hflow_call_record *c);

#endif
