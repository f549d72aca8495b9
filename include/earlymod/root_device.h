// Finding the root device named by root= on the kernel command line.
//
// Forms understood, as the kernel and initramfs tools use them:
//   /dev/NAME            a device node (devtmpfs creates it when it appears)
//   UUID=… / LABEL=…     a filesystem's UUID or label (ext2/3/4, xfs, btrfs,
//                        vfat), read from its superblock
//   PARTUUID=…           a GPT partition's unique GUID, or an MBR disk
//                        signature and partition number (SSSSSSSS-PP)
//   MAJ:MIN, 0xMMmm      a device number (hex: major in the high byte)
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include <string_view>

namespace earlymod {

struct RootSpec {
    enum Kind { path, uuid, label, partuuid, devnum } kind = path;
    std::string_view value;  // path, UUID, label or PARTUUID text
    dev_t number = 0;        // for devnum
};

// False when root= has a form that is not understood.
bool parse_root_spec(std::string_view root, RootSpec* spec);

// One look at the block devices: writes the device node's path into buf
// and returns true when the device is there now.
bool find_root_device(const RootSpec& spec, char* buf, size_t cap);

// Filesystem identity read from a block device's superblock (exposed for
// tests on image files).
struct FsIdentity {
    char type[8];     // "ext4", "xfs", "btrfs", "vfat", or empty
    char uuid[40];    // canonical text form, lower case
    char label[256];
};
bool read_fs_identity(const char* path, FsIdentity* id);

} // namespace earlymod
