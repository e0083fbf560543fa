/* log.c — stderr logger, one write(2) per line so concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static int log_level = LOG_INFO;
static const char *log_prefix = "ember";

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }
void log_set_prefix(const char *prefix) { log_prefix = prefix; }

static const char *level_name(int level)
{
        switch (level) {
        case LOG_ERR: return "error";
        case LOG_WARN: return "warn";
        case LOG_INFO: return "info";
        default: return "debug";
        }
}

void log_msg(int level, const char *fmt, ...)
{
        if (level > log_level)
                return;
        int saved = errno;
        char line[2048];
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s[%s] ", tm.tm_hour, tm.tm_min,
                         tm.tm_sec, ts.tv_nsec / 1000000, log_prefix, level_name(level));
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        va_end(ap);
        if (n > (int)sizeof(line) - 2)
                n = (int)sizeof(line) - 2;
        line[n++] = '\n';
        ssize_t _unused_ w = write(STDERR_FILENO, line, (size_t)n);
        errno = saved;
}
