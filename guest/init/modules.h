/* modules.h — the initramfs' module list: /lib/modules/ember/modules.order names one module
 * file per line, relative to that directory, in load order. Parsing only; loading is the
 * load_modules step (steps.c) through SysOps. */
#pragma once
#include <stddef.h>

#include "shared/err.h"

#define MODULES_DIR "/lib/modules/ember"
#define MODULES_MAX 256
#define MODULES_ORDER_MAX (64u * 1024)
#define MODULES_NAME_MAX 255

/* Splits text in place. Blank lines and '#' comments are skipped, surrounding blanks and a
 * CR are trimmed. A name must be relative, without "..", at most MODULES_NAME_MAX bytes.
 * -EINVAL (with the line number) on a bad name, -E2BIG over max names. */
int modules_order_parse(char *text, const char **names, size_t max, size_t *ret_n, Err *e);
