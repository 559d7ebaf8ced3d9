/* clock.c - CLOCK_MONOTONIC for durations, CLOCK_REALTIME only for timestamps. */
#include "base/clock.h"

#include <errno.h>
#include <time.h>

uint64_t hflow_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double hflow_now_s(void) { return (double)hflow_now_ns() * 1e-9; }

double hflow_wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void hflow_sleep_ms(double ms) {
    if (ms <= 0) return;
    struct timespec req = {(time_t)(ms / 1000.0), (long)((ms - (double)(time_t)(ms / 1000.0) * 1000.0) * 1e6)};
    while (nanosleep(&req, &req) != 0 && errno == EINTR) {}
}
