/* cli_common.h - pieces several subcommands share: locating ../shared,
 * opening endpoints, a Ctrl-C flag, the progress line. */
#ifndef HFLOW_CLI_COMMON_H
#define HFLOW_CLI_COMMON_H

#include "hybridflow/backend.h"
#include "hybridflow/eval.h"

/* HYBRIDFLOW_SHARED, else ../shared beside the source tree. */
const char *cli_shared_dir(void);
/* Opens an endpoint with default options; prints the error and returns non-zero on failure. */
int cli_open_backend(const char *what, const char *endpoint, hflow_backend **out);
/* The same with options (NULL = defaults). */
int cli_open_backend_opts(const char *what, const char *endpoint, const hflow_backend_options *opts,
                          hflow_backend **out);
/* Points SIGINT/SIGTERM at a flag the library polls (first signal: stop cleanly). */
volatile int *cli_cancel_flag_install(void);

/* Progress output: a redrawn bar with ETA on a terminal, plain lines otherwise. */
typedef struct cli_progress {
    const char *label;
    int tty;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_cb(void *user, const hflow_eval_progress *pr);
void cli_progress_end(cli_progress *p);

#endif
