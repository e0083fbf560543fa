/* vmm-select.c — which VMM a manager drives (see vmm-select.h). The "auto" policy lives
 * in vmm_select_auto() alone, so that a smarter probe replaces one function. */
#include "vmm-select.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../shared/cleanup.h"

static bool binary_runnable(const char *bin)
{
        if (!bin || !bin[0])
                return false;
        if (strchr(bin, '/'))
                return access(bin, X_OK) == 0;
        const char *path = getenv("PATH");
        _cleanup_free_ char *dirs = strdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
        char *save = NULL;
        for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *full = NULL;
                if (asprintf(&full, "%s/%s", d, bin) >= 0 && access(full, X_OK) == 0)
                        return true;
        }
        return false;
}

/* /dev/kvm existing is not enough: it must create a VM (DESIGN §2 — a broken nested KVM
 * may still fail later; a later probe may boot a tiny guest). */
static bool kvm_can_create_vm(void)
{
        _cleanup_close_ int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0)
                return false;
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return false;
        close(vm);
        return true;
}

static VmmKind vmm_select_auto(const Settings *s)
{
        if (binary_runnable(s->firecracker_bin) && kvm_can_create_vm())
                return VMM_FIRECRACKER;
        return VMM_QEMU;
}

static const struct {
        const char *engine; /* NULL = the binary is firecracker_bin, no engine flag */
} engines[] = {
        [VMM_FIRECRACKER] = {NULL},
        [VMM_QEMU] = {"qemu"},
        [VMM_PROCESS] = {"process"},
};

int vmm_select(const Settings *s, VmmKind *ret_kind, char ***ret_argv, Err *e)
{
        VmmKind k = s->vmm == VMM_AUTO ? vmm_select_auto(s) : s->vmm;
        if ((size_t)k >= ELEMENTSOF(engines) || k == VMM_AUTO)
                return err_set(e, EINVAL, "vmm: unknown kind %d", (int)k);
        const char *engine = engines[k].engine;
        const char *bin = engine ? s->vmm_bin : s->firecracker_bin;
        if (!bin || !bin[0])
                return err_set(e, EINVAL, "vmm: %s needs %s to be set", vmm_kind_name(k),
                               engine ? "vmm_bin" : "firecracker_bin");
        char **argv = calloc(4, sizeof(char *));
        if (!argv)
                return err_set(e, ENOMEM, "out of memory");
        argv[0] = strdup(bin);
        if (engine) {
                argv[1] = strdup("--engine");
                argv[2] = strdup(engine);
        }
        if (!argv[0] || (engine && (!argv[1] || !argv[2]))) {
                for (size_t i = 0; i < 3; i++)
                        free(argv[i]);
                free(argv);
                return err_set(e, ENOMEM, "out of memory");
        }
        *ret_kind = k;
        *ret_argv = argv;
        return 0;
}

void vmm_select_free(char **argv)
{
        for (size_t i = 0; argv && argv[i]; i++)
                free(argv[i]);
        free(argv);
}
