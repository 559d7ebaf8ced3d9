/* clock.h - monotonic and wall clocks. */
#ifndef HFLOW_BASE_CLOCK_H
#define HFLOW_BASE_CLOCK_H
#include <stdint.h>

/* Monotonic time in nanoseconds / seconds since an arbitrary origin. */
uint64_t hflow_now_ns(void);
double hflow_now_s(void);
/* Wall-clock Unix time in seconds (for timestamps in outputs, never durations). */
double hflow_wall_s(void);
/* Sleep for `ms` milliseconds (restarts on EINTR). */
void hflow_sleep_ms(double ms);

#endif
