/* test.h — a tiny assertion layer for unit tests: CHECK() counts failures and goes on,
 * TEST_MAIN() prints "name: N checks, M failed" and exits non-zero on failure. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_checks, test_failed;

#define CHECK(cond)                                                                                \
        do {                                                                                       \
                test_checks++;                                                                     \
                if (!(cond)) {                                                                     \
                        test_failed++;                                                             \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
                }                                                                                  \
        } while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                test_checks++;                                                                     \
                if (_a != _b) {                                                                    \
                        test_failed++;                                                             \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__,  \
                                #a, _a, _b);                                                       \
                }                                                                                  \
        } while (0)
#define CHECK_STR(a, b)                                                                            \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                test_checks++;                                                                     \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
                        test_failed++;                                                             \
                        fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
                                __LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");             \
                }                                                                                  \
        } while (0)

#define TEST_MAIN(body)                                                                            \
        int main(void)                                                                             \
        {                                                                                          \
                body;                                                                              \
                printf("%s: %d checks, %d failed\n", __FILE__, test_checks, test_failed);          \
                return test_failed ? 1 : 0;                                                        \
        }
