/* budget.h - reservations against hflow_budget caps (internal to the flow).
 *
 * A cloud call first reserves its worst case: an upper bound of its prompt
 * tokens plus the max_tokens it will be sent with. When the worst case does
 * not fit, max_tokens is shortened to what fits (never below a floor); when
 * not even the floor fits, nothing is reserved and the caller goes to the
 * edge. After the call, settle() replaces the reservation with real usage.
 * Because a backend never returns more than max_tokens and a prompt never has
 * more tokens than its upper bound, settled usage can never pass a cap. */
#ifndef HFLOW_FLOW_BUDGET_H
#define HFLOW_FLOW_BUDGET_H

#include <stdint.h>

#include "hybridflow/flow.h"

#define FLOW_MAX_BUDGETS 2

typedef struct flow_reservation {
    hflow_budget *b[FLOW_MAX_BUDGETS];
    int64_t tokens;
    double usd[FLOW_MAX_BUDGETS];
    int active;
} flow_reservation;

/* Upper bound of the tokens of a prompt of `bytes` bytes in `n_messages`
 * messages: a token covers at least one byte, plus chat-template overhead. */
int64_t flow_prompt_token_bound(size_t bytes, int n_messages);

/* Reserves in every non-NULL budget of bs[0..n). Returns the max_tokens
 * granted (<= want, >= floor), or 0 when it does not fit (nothing reserved). */
int32_t flow_budget_reserve(hflow_budget **bs, int n, const hflow_price_table *prices, const char *model,
                            int64_t prompt_bound, int32_t want, int32_t floor, flow_reservation *r);
/* Releases the reservation and records the real usage. */
void flow_budget_settle(flow_reservation *r, const hflow_price_table *prices, const char *model,
                        int64_t prompt_tokens, int64_t completion_tokens);
/* Seconds left before the budget's deadline (HUGE_VAL when none). */
double flow_budget_remaining_s(hflow_budget *b);
/* Elementwise max of the states of the non-NULL budgets. */
void flow_budget_state_max(hflow_budget **bs, int n, hflow_budget_state *out);

#endif
