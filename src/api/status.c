/* status.c — errno → HTTP status table (see status.h). Adding a mapping is adding a row;
 * nothing else in the API layer may translate errnos. */
#include "status.h"

#include <errno.h>
#include <stddef.h>

typedef struct StatusRow {
        int errnum;
        unsigned status;
        const char *code;
} StatusRow;

static const StatusRow status_rows[] = {
        {EINVAL, 400, "invalid_request"},
        {ENOENT, 404, "not_found"},
        {E2BIG, 413, "too_large"},
        {EMSGSIZE, 413, "too_large"},
        {EFBIG, 413, "too_large"},
        {EAGAIN, 503, "unavailable"},
        {EBUSY, 503, "unavailable"},
        {EHOSTDOWN, 502, "vmm_error"},
        {ECONNREFUSED, 502, "vmm_error"},
        {ECONNRESET, 502, "vmm_error"},
        {EPIPE, 502, "vmm_error"},
        {EPROTO, 502, "vmm_error"},
        {EBADMSG, 502, "vmm_error"},
        {ETIMEDOUT, 502, "vmm_timeout"},
        {ENOSPC, 507, "insufficient_storage"}, /* the state dir is full: the host's, not the VM's */
        {EDQUOT, 507, "insufficient_storage"},
};

/* Codes for statuses produced by the HTTP layer itself (no errno behind them). */
static const StatusRow http_rows[] = {
        {0, 400, "invalid_request"},    {0, 401, "unauthorized"},
        {0, 404, "not_found"},          {0, 405, "method_not_allowed"},
        {0, 413, "body_too_large"},     {0, 500, "internal_error"},
        {0, 502, "vmm_error"},          {0, 503, "unavailable"},
        {0, 507, "insufficient_storage"},
};

unsigned status_from_errno(int errnum, const char **ret_code)
{
        if (errnum < 0)
                errnum = -errnum;
        for (size_t i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++)
                if (status_rows[i].errnum == errnum) {
                        if (ret_code)
                                *ret_code = status_rows[i].code;
                        return status_rows[i].status;
                }
        if (ret_code)
                *ret_code = "internal_error";
        return 500;
}

const char *status_default_code(unsigned status)
{
        for (size_t i = 0; i < sizeof(http_rows) / sizeof(http_rows[0]); i++)
                if (http_rows[i].status == status)
                        return http_rows[i].code;
        return "error";
}
