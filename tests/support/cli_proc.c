/* cli_proc.c - see cli_proc.h. */
#include "cli_proc.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

extern char **environ;

/* Runs `hybridflow ARGS...` (NULL-terminated) with stdout+stderr in `log`;
 * prints the log when it fails. Returns the exit status. */
int tu_cli(const char *log, const char *const *args) {
    const char *argv[64];
    int n = 0;
    argv[n++] = tu_cli_path();
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(rc, 0);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code) {
        char *text = tu_read_file(log, NULL);
        print_message("hybridflow %s exited %d:\n%s\n", args[0], code, text ? text : "(no output)");
        free(text);
    }
    return code;
}

/* Lines of a JSONL file, parsed; *n of them. Caller frees with free_lines. */
cJSON **tu_jsonl_read(const char *path, size_t *n) {
    char *text = tu_read_file(path, NULL);
    assert_non_null(text);
    size_t cap = 16;
    cJSON **rows = malloc(cap * sizeof *rows);
    assert_non_null(rows);
    *n = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        if ((nl = strchr(p, '\n'))) *nl = '\0';
        if (!*p) continue;
        if (*n == cap) assert_non_null(rows = realloc(rows, (cap *= 2) * sizeof *rows));
        assert_non_null(rows[*n] = cJSON_Parse(p));
        (*n)++;
    }
    free(text);
    return rows;
}

void tu_jsonl_free(cJSON **rows, size_t n) {
    for (size_t i = 0; i < n; i++) cJSON_Delete(rows[i]);
    free(rows);
}
