/* replay.c — main() for the corpus regression tests (suite 'unit', any compiler, no
 * libFuzzer): runs every file of the directories given as arguments through the target's
 * LLVMFuzzerTestOneInput once, in name order, so each committed corpus — crash reproducers
 * included — is replayed by `make test`. A finding aborts, naming the input. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "shared/util.h"

#define REPLAY_MAX_INPUT (4u << 20)

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directory's regular file names, sorted; the directory is closed before any input
 * runs, so the fd-leak check of the targets sees the same fd table every time. */
static char **list_dir(const char *dir, size_t *ret_n)
{
        DIR *d = opendir(dir);
        FUZZ_CHECK(d, "cannot open corpus %s: %m", dir);
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                names = realloc(names, (n + 1) * sizeof(*names));
                FUZZ_CHECK(names, "out of memory");
                names[n] = strdup(de->d_name);
                FUZZ_CHECK(names[n++], "out of memory");
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), cmp_names);
        *ret_n = n;
        return names;
}

static size_t replay_dir(const char *dir)
{
        size_t n = 0;
        char **names = list_dir(dir, &n);
        for (size_t i = 0; i < n; i++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                char *data = NULL;
                size_t len = 0;
                int r = read_file(path, REPLAY_MAX_INPUT, &data, &len);
                FUZZ_CHECK(r >= 0, "cannot read %s: %s", path, strerror(-r));
                /* an exact-size copy, so a read past the input is an ASan finding here too */
                uint8_t *copy = malloc(len ? len : 1);
                FUZZ_CHECK(copy, "out of memory");
                memcpy(copy, data, len);
                free(data);
                fuzz_input_name = path;
                LLVMFuzzerTestOneInput(copy, len);
                fuzz_input_name = NULL;
                free(copy);
                free(names[i]);
        }
        free(names);
        return n;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
                return 2;
        }
        LLVMFuzzerInitialize(&argc, &argv);
        size_t total = 0;
        for (int i = 1; i < argc; i++) {
                size_t n = replay_dir(argv[i]);
                printf("%s: %zu inputs replayed\n", argv[i], n);
                total += n;
        }
        FUZZ_CHECK(total > 0, "no inputs: the corpus is missing");
        printf("%zu inputs, no findings\n", total);
        return 0;
}
