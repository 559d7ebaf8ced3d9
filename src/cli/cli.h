/* cli.h - one function per subcommand (one file each); main.c dispatches.
 * CLI code parses flags and prints; the library owns the logic. */
#ifndef HFLOW_CLI_H
#define HFLOW_CLI_H

typedef int (*hflow_cli_fn)(int argc, char **argv);

int cli_bench(int argc, char **argv);
int cli_family(int argc, char **argv);
int cli_gen_model(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_spec(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_train_router(int argc, char **argv);
int cli_profile(int argc, char **argv);

#endif
