/* test-vmm-select.c — which VMM emberd drives and with which accelerator, against fake
 * ember-vmm scripts that print a KVM verdict (and count how often they were asked): auto is
 * Firecracker only when it and a usable KVM exist, the qemu engine is told --accel, the
 * process engine never probes, and /healthz's accel follows the choice. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/vmm-select.h"
#include "shared/util.h"
#include "../test.h"

static char dir[] = "/tmp/test-vmm-select.XXXXXX";
static char usable[128], unusable[128], silent[128], count[128], state[128];

static void script(const char *path, const char *body)
{
        char text[512];
        snprintf(text, sizeof(text), "#!/bin/sh\necho x >> %s\n%s\n", count, body);
        CHECK_EQ_INT(write_file(path, text, strlen(text), 0755), 0);
}

static int probes(void)
{
        char *text = NULL;
        size_t n = 0, lines = 0;
        if (read_file(count, 4096, &text, &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                lines += text[i] == '\n';
        free(text);
        unlink(count);
        return (int)lines;
}

static bool argv_is(char **argv, const char *const *want)
{
        size_t i = 0;
        for (; want[i]; i++)
                if (!argv[i] || strcmp(argv[i], want[i]))
                        return false;
        return argv[i] == NULL;
}

static Settings settings(VmmKind k, const char *vmm_bin, const char *fc)
{
        return (Settings){.vmm = k, .vmm_bin = (char *)vmm_bin, .firecracker_bin = (char *)fc,
                          .state_dir = state, .images_dir = dir, .kernel = "vmlinux",
                          .initrd = "initramfs.img"};
}

static void pick(VmmKind want, const char *const *want_argv, const char *accel, Settings s)
{
        VmmKind k = VMM_AUTO;
        char **argv = NULL;
        Err e = {0};
        CHECK_EQ_INT(vmm_select(&s, &k, &argv, &e), 0);
        CHECK_EQ_INT(k, want);
        CHECK(argv && argv_is(argv, want_argv));
        CHECK_STR(vmm_select_accel(), accel);
        vmm_select_free(argv);
}

TEST_MAIN({
        if (!mkdtemp(dir))
                return 1;
        snprintf(usable, sizeof(usable), "%s/vmm-usable", dir);
        snprintf(unusable, sizeof(unusable), "%s/vmm-unusable", dir);
        snprintf(silent, sizeof(silent), "%s/vmm-silent", dir);
        snprintf(count, sizeof(count), "%s/probes", dir);
        snprintf(state, sizeof(state), "%s/state", dir);
        script(usable, "echo 'kvm: usable (fake)'; exit 0");
        script(unusable, "echo 'some log line' >&2; echo 'kvm: unusable (fake)'; exit 3");
        script(silent, "exit 0"); /* no verdict line: not usable, whatever the status */

        /* auto with a runnable firecracker: the probe decides */
        pick(VMM_FIRECRACKER, (const char *const[]){"/bin/true", NULL}, "kvm",
             settings(VMM_AUTO, usable, "/bin/true"));
        CHECK_EQ_INT(probes(), 1);
        pick(VMM_QEMU, (const char *const[]){unusable, "--engine", "qemu", "--accel", "tcg", NULL},
             "tcg", settings(VMM_AUTO, unusable, "/bin/true"));
        CHECK_EQ_INT(probes(), 1);
        /* no firecracker: the qemu engine, on KVM when usable */
        pick(VMM_QEMU, (const char *const[]){usable, "--engine", "qemu", "--accel", "kvm", NULL},
             "kvm", settings(VMM_AUTO, usable, "/nonexistent/firecracker"));
        CHECK_EQ_INT(probes(), 1);
        pick(VMM_QEMU, (const char *const[]){silent, "--engine", "qemu", "--accel", "tcg", NULL},
             "tcg", settings(VMM_AUTO, silent, "/bin/true"));
        CHECK_EQ_INT(probes(), 1);
        /* explicit kinds */
        pick(VMM_QEMU, (const char *const[]){usable, "--engine", "qemu", "--accel", "kvm", NULL},
             "kvm", settings(VMM_QEMU, usable, NULL));
        CHECK_EQ_INT(probes(), 1);
        pick(VMM_PROCESS, (const char *const[]){usable, "--engine", "process", NULL}, "none",
             settings(VMM_PROCESS, usable, NULL));
        pick(VMM_FIRECRACKER, (const char *const[]){"/bin/true", NULL}, "kvm",
             settings(VMM_FIRECRACKER, usable, "/bin/true"));
        CHECK_EQ_INT(probes(), 0); /* neither probes */
        /* the probe's output file is gone */
        DIR *d = opendir(state);
        int entries = 0;
        for (struct dirent *de; d && (de = readdir(d));)
                entries += de->d_name[0] != '.' || strlen(de->d_name) > 2;
        if (d)
                closedir(d);
        CHECK(d != NULL && entries == 0);
        rm_rf(dir);
})
