/* openai_errors.h - the OpenAI error object and the status each error kind gets.
 *
 *   {"error":{"message":"...","type":"invalid_request_error","param":null,"code":null}}
 *
 * Types follow OpenAI's: invalid_request_error (400, 404, 405, 413),
 * authentication_error (401), rate_limit_error (429), server_error (500, 503). */
#ifndef HFLOW_SERVE_OPENAI_ERRORS_H
#define HFLOW_SERVE_OPENAI_ERRORS_H

/* The conventional error type for an HTTP status. */
const char *serve_error_type_for_status(int status);
/* A malloc'd JSON error object (caller frees); type NULL = by status; param
 * and code may be NULL (rendered as JSON null). NULL only when out of memory. */
char *serve_error_json(int status, const char *type, const char *param, const char *code, const char *message);
/* HTTP status for a library error code (HFLOW_EINVAL -> 400, ...). */
int serve_status_for_hflow_code(int code);

#endif
