// Finding the root device named by root= on the kernel command line.
//
// Forms understood, as the kernel and initramfs tools use them:
//   /dev/NAME            a device node (devtmpfs creates it when it appears)
//   UUID=… / LABEL=…     a filesystem's UUID or label (ext2/3/4, xfs, btrfs,
//                        vfat), read from its superblock, or a swap area's
//                        (resume=, which names a device the same ways)
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
    std::string_view value; // path, UUID, label or PARTUUID text
    dev_t number = 0;       // for devnum
};

// False when root= has a form that is not understood.
bool parse_root_spec(std::string_view root, RootSpec* spec);

// One look at the block devices: writes the device node's path into buf
// and returns true when the device is there now.
bool find_root_device(const RootSpec& spec, char* buf, size_t cap);

// Filesystem identity read from a block device's superblock (exposed, as
// read_partition_uuid below, for tests on image files).
struct FsIdentity {
    char type[8];  // "ext4", "xfs", "btrfs", "vfat", "swap", or empty
    char uuid[40]; // canonical text form, lower case
    char label[256];
};
bool read_fs_identity(const char* path, FsIdentity* id);

// The PARTUUID of partition `number` (1-based, as the kernel numbers them)
// of the disk at `disk`, written into out (cap >= 40) in the form root=
// names it: the GPT entry's unique GUID, or the MBR disk signature and the
// number ("0a1b2c3d-01").
//
// block_size is the disk's logical block size, which places the GPT header
// (LBA 1: byte 512, or 4096 on a 4K-sector disk) and the entry array; 0
// asks the device (BLKSSZGET) and, for an image file, finds the header at
// 512, 1024, 2048 or 4096. A block size no disk has (not a power of two
// from 512 to 65536) is refused. A disk whose MBR has a 0xEE (protective)
// entry is read as GPT only, as the kernel reads it: never as MBR
// partitions. The header's fields are checked before use (header size,
// its own LBA, entry size, entry array LBA); whatever the header claims,
// one entry is read: at most seven small reads in all.
bool read_partition_uuid(const char* disk, unsigned long number, unsigned block_size, char* out, size_t cap);

// A btrfs filesystem on several devices (raid1, say) mounts only once the
// kernel knows every member: this registers each block device that holds
// a btrfs superblock (BTRFS_IOC_SCAN_DEV on control, /dev/btrfs-control,
// which the btrfs module brings), as `btrfs device scan` does. Whatever
// filesystem they belong to: the kernel sorts them by fsid.
struct BtrfsScan {
    unsigned registered = 0;
    unsigned failed = 0;
    int control_errno = 0;        // control could not be opened (no btrfs module?)
    char first_failure[320] = ""; // "/dev/NAME: reason" of the first refused
};
BtrfsScan register_btrfs_devices(const char* control);

} // namespace earlymod
