/* status.h — the ONE table from errno to HTTP status and default API error code.
 * Handlers never pick a status for a failure themselves; they return -errno + Err. */
#pragma once

/* Status for a positive errno (or -errno); *ret_code (may be NULL) gets the default
 * snake_case code for it. Unknown errnos are 500 "internal_error". */
unsigned status_from_errno(int errnum, const char **ret_code);
/* Default code for an HTTP status (e.g. 404 -> "not_found"), "error" if none. */
const char *status_default_code(unsigned status);
