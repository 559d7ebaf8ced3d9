/* cli_proc.h - running the `hybridflow` CLI from a test and reading the JSONL
 * files it writes (profiles, traces). Shared by the end-to-end router tests. */
#ifndef HFLOW_TEST_CLI_PROC_H
#define HFLOW_TEST_CLI_PROC_H
#include <stddef.h>

#include <cjson/cJSON.h>

/* Runs `hybridflow ARGS...` (NULL-terminated) with stdout+stderr in `log`;
 * prints the log when it fails. Returns the exit status. */
int tu_cli(const char *log, const char *const *args);

/* Lines of a JSONL file, parsed (the test fails on a line that is not JSON);
 * *n of them. Free with tu_jsonl_free. */
cJSON **tu_jsonl_read(const char *path, size_t *n);
void tu_jsonl_free(cJSON **rows, size_t n);

#endif
