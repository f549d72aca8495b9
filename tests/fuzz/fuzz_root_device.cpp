// read_fs_identity() (ext4, xfs, btrfs and FAT superblocks) on an image
// made from the input, and parse_root_spec() on the input as text.
//
// Input: one byte choosing where the rest goes in a zero-filled image
// (0: offset 0, 1: 1024, 2: 65536; the superblocks live there), then the
// bytes. Checks: the identity strings are NUL-terminated within their
// arrays.
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "earlymod/boot/root_device.h"
#include "fuzz_common.h"

using namespace earlymod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    RootSpec spec;
    parse_root_spec(fuzz::as_text(data, size), &spec);
    if (size == 0) return 0;

    static int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
    static char path[64];
    if (fd < 0) return 0;
    if (!path[0]) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    static const off_t offsets[] = {0, 1024, 65536};
    off_t at = offsets[data[0] % 3];
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, at + static_cast<off_t>(size - 1)) != 0) return 0;
    if (size > 1 && pwrite(fd, data + 1, size - 1, at) != static_cast<ssize_t>(size - 1)) return 0;

    FsIdentity id;
    if (read_fs_identity(path, &id)) {
        FUZZ_CHECK(memchr(id.type, 0, sizeof id.type) != nullptr);
        FUZZ_CHECK(memchr(id.uuid, 0, sizeof id.uuid) != nullptr);
        FUZZ_CHECK(memchr(id.label, 0, sizeof id.label) != nullptr);
        RootSpec s2;
        char uuid[48];
        snprintf(uuid, sizeof uuid, "UUID=%s", id.uuid);
        FUZZ_CHECK(parse_root_spec(uuid, &s2) == (id.uuid[0] != 0));
    }
    return 0;
}
