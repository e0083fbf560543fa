/* log.h — one line per event on stderr: "<ts> <level> <message>".
 * Lower layers return errors instead of logging; whoever decides what to do logs once. */
#pragma once
#include "cleanup.h"

enum { LOG_ERR = 3, LOG_WARN = 4, LOG_INFO = 6, LOG_DEBUG = 7 };

void log_set_level(int level);
int log_get_level(void);
void log_set_prefix(const char *prefix); /* e.g. "emberd", "ember-vmm" */
void log_msg(int level, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
