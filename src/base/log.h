/* log.h - leveled logging to stderr. The level is process-wide configuration
 * set once at start-up (HYBRIDFLOW_LOG=error|warn|info|debug), not mutable state
 * that library calls depend on. */
#ifndef HFLOW_BASE_LOG_H
#define HFLOW_BASE_LOG_H

enum hflow_log_level { HFLOW_LOG_ERROR = 0, HFLOW_LOG_WARN = 1, HFLOW_LOG_INFO = 2, HFLOW_LOG_DEBUG = 3 };

void hflow_log_set_level(int level);
int hflow_log_level(void);
void hflow_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define HFLOW_LOGE(...) hflow_log(HFLOW_LOG_ERROR, __VA_ARGS__)
#define HFLOW_LOGW(...) hflow_log(HFLOW_LOG_WARN, __VA_ARGS__)
#define HFLOW_LOGI(...) hflow_log(HFLOW_LOG_INFO, __VA_ARGS__)
#define HFLOW_LOGD(...) hflow_log(HFLOW_LOG_DEBUG, __VA_ARGS__)

#endif
