/* cli_version.c - `hybridflow version`. */
#include <stdio.h>

#include "cli/cli.h"

int cli_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("hybridflow 0.1.0\n");
    return 0;
}
