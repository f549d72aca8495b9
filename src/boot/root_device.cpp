#include "earlymod/boot/root_device.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h> // BLKSSZGET (glibc and musl)
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "earlymod/util/files.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

// GPT: the header fields read (the header may be longer), an entry's size
// as this code reads it (the unique GUID is at 16), and the largest entry
// size taken.
constexpr size_t gpt_header_size = 92;
constexpr uint32_t gpt_entry_size = 128;
constexpr uint32_t max_gpt_entry_size = 4096;
// Partition numbers a disk can have (the kernel's DISK_MAX_PARTS is 256;
// GPT tables hold more entries than that, the kernel ignores the rest).
constexpr unsigned long max_partition_number = 65536;

uint16_t le16(const unsigned char* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t le32(const unsigned char* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t le64(const unsigned char* p) {
    return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32);
}

bool read_at(int fd, off_t off, unsigned char* buf, size_t n) {
    return pread(fd, buf, n, off) == static_cast<ssize_t>(n);
}

// 16 bytes as 8-4-4-4-12 hex; GPT and FAT-less forms swap the first three
// fields (mixed endian) when mixed is set.
void format_uuid(const unsigned char* b, bool mixed, char* out, size_t cap = 40) {
    // The byte order to print: as stored, or the first three fields
    // (4, 2 and 2 bytes) reversed.
    static constexpr unsigned char as_stored[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    static constexpr unsigned char mixed_endian[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    const unsigned char* order = mixed ? mixed_endian : as_stored;
    unsigned char u[16];
    for (int i = 0; i < 16; ++i) u[i] = b[order[i]];
    snprintf(out, cap, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
             u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void copy_label(const unsigned char* p, size_t n, char* out, size_t cap) {
    size_t k = 0;
    for (; k < n && k + 1 < cap && p[k]; ++k) out[k] = static_cast<char>(p[k]);
    while (k > 0 && out[k - 1] == ' ') --k; // FAT pads with blanks
    out[k] = '\0';
}

bool equal_nocase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Calls f(name) for each entry of /sys/class/block.
template <typename F>
void for_each_block_device(F&& f) {
    DIR* d = opendir("/sys/class/block");
    if (!d) return;
    while (struct dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        if (f(e->d_name)) break;
    }
    closedir(d);
}

bool read_sys(const char* name, const char* leaf, char* buf, size_t cap) {
    char path[512];
    snprintf(path, sizeof path, "/sys/class/block/%s/%s", name, leaf);
    long n = read_small_file(path, buf, cap);
    if (n <= 0) return false;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
    return true;
}

// Logical block sizes a disk may have: 512 to 64 KiB, powers of two.
bool valid_block_size(uint64_t bs) {
    return bs >= 512 && bs <= 65536 && (bs & (bs - 1)) == 0;
}

// The device's logical block size (BLKSSZGET); for an image file, the
// first of 512, 1024, 2048, 4096 where the GPT header is (LBA 1); else 512,
// where the MBR's sector size does not matter.
unsigned logical_block_size(int fd) {
    int bs = 0;
    if (ioctl(fd, BLKSSZGET, &bs) == 0 && bs > 0 && valid_block_size(static_cast<unsigned>(bs)))
        return static_cast<unsigned>(bs);
    for (unsigned probe = 512; probe <= 4096; probe *= 2) {
        unsigned char sig[8];
        if (read_at(fd, probe, sig, sizeof sig) && memcmp(sig, "EFI PART", 8) == 0) return probe;
    }
    return 512;
}

// The partition table of the disk open at fd, as the kernel reads it
// (block/partitions/efi.c, msdos.c): a GPT needs an MBR with a 0xEE
// (protective or hybrid) entry, and such a disk is never read as MBR
// partitions: the protective MBR's signature (0) would make a PARTUUID
// "00000000-01" of any disk. Each field of the GPT header is checked
// before it is used; one header and one entry are read, whatever the
// header claims.
bool partition_uuid_at(int fd, unsigned long number, unsigned bs, char* out, size_t cap) {
    unsigned char mbr[512];
    if (!read_at(fd, 0, mbr, sizeof mbr) || mbr[510] != 0x55 || mbr[511] != 0xAA) return false;
    bool protective = false;
    for (int i = 0; i < 4; ++i) protective = protective || mbr[446 + 16 * i + 4] == 0xEE;
    if (!protective) {
        snprintf(out, cap, "%08x-%02lx", le32(mbr + 440), number);
        return true;
    }
    if (bs == 0) bs = logical_block_size(fd);
    if (!valid_block_size(bs)) return false;
    unsigned char hdr[gpt_header_size];
    if (!read_at(fd, bs, hdr, sizeof hdr) || memcmp(hdr, "EFI PART", 8) != 0) return false;
    uint32_t header_size = le32(hdr + 12);
    uint64_t my_lba = le64(hdr + 24);
    uint64_t entries_lba = le64(hdr + 72);
    uint32_t count = le32(hdr + 80);
    uint32_t entry_size = le32(hdr + 84);
    if (header_size < gpt_header_size || header_size > bs || my_lba != 1) return false;
    // Entries are 128 bytes times a power of two (the kernel takes 128
    // only); the cap keeps the offset below from overflowing.
    if (entry_size < gpt_entry_size || entry_size > max_gpt_entry_size || (entry_size & (entry_size - 1)) != 0)
        return false;
    if (number > count) return false;
    // The array lies after the header; the end of the entry read must be
    // an off_t.
    const uint64_t limit = uint64_t(INT64_MAX) - gpt_entry_size;
    if (entries_lba < 2 || entries_lba > limit / bs) return false;
    uint64_t at = entries_lba * bs;
    uint64_t skip = uint64_t(number - 1) * entry_size; // number <= max_partition_number: no overflow
    if (skip > limit - at) return false;
    unsigned char entry[gpt_entry_size];
    if (!read_at(fd, static_cast<off_t>(at + skip), entry, sizeof entry)) return false;
    format_uuid(entry + 16, true, out, cap);
    return true;
}

// PARTUUID of partition `name`: read from its parent disk's partition table.
bool partition_uuid(const char* name, char* out, size_t cap) {
    char num[16];
    if (!read_sys(name, "partition", num, sizeof num)) return false;
    unsigned long index = 0;
    if (!parse_uint(num, &index) || index == 0) return false;
    // The parent disk: /sys/class/block/NAME links into its disk's dir.
    char link[512], real[1024];
    snprintf(link, sizeof link, "/sys/class/block/%s", name);
    if (!realpath(link, real)) return false;
    char* slash = strrchr(real, '/');
    if (!slash) return false;
    *slash = '\0';
    const char* disk = strrchr(real, '/');
    if (!disk) return false;
    char dev[300];
    snprintf(dev, sizeof dev, "/dev/%s", disk + 1);
    return read_partition_uuid(dev, index, 0, out, cap);
}

} // namespace

bool read_partition_uuid(const char* disk, unsigned long number, unsigned block_size, char* out, size_t cap) {
    if (cap > 0) out[0] = '\0';
    if (cap < 40 || number == 0 || number > max_partition_number) return false;
    if (block_size != 0 && !valid_block_size(block_size)) return false;
    int fd = open(disk, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    bool found = partition_uuid_at(fd, number, block_size, out, cap);
    close(fd);
    return found;
}

namespace {

// A swap area (resume=UUID=, LABEL=): its signature ends the first page,
// "SWAPSPACE2", or the kernel's "S1SUSPEND" once a hibernation image was
// written into it. The header keeps its UUID (at 1036) and label (1052)
// either way. Pages of 4 to 64 KiB are tried: the area was made for the
// page size of the machine that made it.
bool swap_identity(int fd, FsIdentity* id) {
    for (off_t page = 4096; page <= 65536; page *= 2) {
        unsigned char sig[10];
        if (!read_at(fd, page - 10, sig, sizeof sig)) return false;
        if (memcmp(sig, "SWAPSPACE2", 10) != 0 && memcmp(sig, "S1SUSPEND", 9) != 0) continue;
        unsigned char h[32];
        if (!read_at(fd, 1036, h, sizeof h)) return false;
        strcpy(id->type, "swap");
        format_uuid(h, false, id->uuid);
        copy_label(h + 16, 16, id->label, sizeof id->label);
        return true;
    }
    return false;
}

} // namespace

bool read_fs_identity(const char* path, FsIdentity* id) {
    memset(id, 0, sizeof *id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    unsigned char b[512];
    bool ok = false;
    if (read_at(fd, 1024, b, 256) && le16(b + 56) == 0xEF53) {
        strcpy(id->type, "ext4");
        format_uuid(b + 104, false, id->uuid);
        copy_label(b + 120, 16, id->label, sizeof id->label);
        ok = true;
    } else if (read_at(fd, 0, b, 512) && memcmp(b, "XFSB", 4) == 0) {
        strcpy(id->type, "xfs");
        format_uuid(b + 32, false, id->uuid);
        copy_label(b + 108, 12, id->label, sizeof id->label);
        ok = true;
    } else if (read_at(fd, 65536, b, 512) && memcmp(b + 64, "_BHRfS_M", 8) == 0) {
        strcpy(id->type, "btrfs");
        format_uuid(b + 32, false, id->uuid);
        unsigned char lab[256];
        if (read_at(fd, 65536 + 299, lab, sizeof lab)) copy_label(lab, sizeof lab, id->label, sizeof id->label);
        ok = true;
    } else if (swap_identity(fd, id)) {
        ok = true;
    } else if (read_at(fd, 0, b, 512) && b[510] == 0x55 && b[511] == 0xAA &&
               (memcmp(b + 82, "FAT32", 5) == 0 || memcmp(b + 54, "FAT1", 4) == 0)) {
        bool fat32 = memcmp(b + 82, "FAT32", 5) == 0;
        strcpy(id->type, "vfat");
        uint32_t serial = le32(b + (fat32 ? 67 : 39));
        snprintf(id->uuid, sizeof id->uuid, "%04X-%04X", serial >> 16, serial & 0xFFFF);
        copy_label(b + (fat32 ? 71 : 43), 11, id->label, sizeof id->label);
        ok = true;
    }
    close(fd);
    return ok;
}

bool parse_root_spec(std::string_view root, RootSpec* spec) {
    *spec = RootSpec{};
    if (root.empty()) return false;
    if (starts_with(root, "UUID=")) {
        spec->kind = RootSpec::uuid;
        spec->value = root.substr(5);
        return !spec->value.empty();
    }
    if (starts_with(root, "LABEL=")) {
        spec->kind = RootSpec::label;
        spec->value = root.substr(6);
        return !spec->value.empty();
    }
    if (starts_with(root, "PARTUUID=")) {
        spec->kind = RootSpec::partuuid;
        spec->value = root.substr(9);
        return !spec->value.empty();
    }
    if (root[0] == '/') {
        spec->kind = RootSpec::path;
        spec->value = root;
        return true;
    }
    size_t colon = root.find(':');
    if (colon != std::string_view::npos) {
        unsigned long maj = 0, min = 0;
        if (!parse_uint(root.substr(0, colon), &maj) || !parse_uint(root.substr(colon + 1), &min)) return false;
        // The kernel's own limits (12-bit major, 20-bit minor): a larger
        // number is refused there too, not cut to another device.
        if (maj > 0xfff || min > 0xfffff) return false;
        spec->kind = RootSpec::devnum;
        spec->number = makedev(maj, min);
        return true;
    }
    // Hex device number (the old form, major in the high byte): 0x801, 801.
    std::string_view hex = starts_with(root, "0x") || starts_with(root, "0X") ? root.substr(2) : root;
    unsigned long v = 0;
    if (hex.empty() || hex.size() > 8) return false;
    for (char c : hex) {
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return false;
        v = v * 16 + static_cast<unsigned long>(d);
    }
    spec->kind = RootSpec::devnum;
    spec->number = makedev(v >> 8, v & 0xff);
    return true;
}

bool find_root_device(const RootSpec& spec, char* buf, size_t cap) {
    if (spec.kind == RootSpec::path) {
        struct stat st;
        if (spec.value.size() >= cap) return false;
        memcpy(buf, spec.value.data(), spec.value.size());
        buf[spec.value.size()] = '\0';
        return stat(buf, &st) == 0 && S_ISBLK(st.st_mode);
    }
    bool found = false;
    for_each_block_device([&](const char* name) {
        char dev[300];
        snprintf(dev, sizeof dev, "/dev/%s", name);
        switch (spec.kind) {
        case RootSpec::devnum: {
            char num[32];
            if (!read_sys(name, "dev", num, sizeof num)) return false;
            char want[32];
            snprintf(want, sizeof want, "%u:%u", major(spec.number), minor(spec.number));
            found = strcmp(num, want) == 0;
            break;
        }
        case RootSpec::partuuid: {
            char uuid[40];
            found = partition_uuid(name, uuid, sizeof uuid) && equal_nocase(uuid, spec.value);
            break;
        }
        case RootSpec::uuid:
        case RootSpec::label: {
            FsIdentity id;
            if (!read_fs_identity(dev, &id)) return false;
            found = spec.kind == RootSpec::uuid ? equal_nocase(id.uuid, spec.value)
                                                : std::string_view(id.label) == spec.value;
            break;
        }
        case RootSpec::path: break;
        }
        if (found) snprintf(buf, cap, "%s", dev);
        return found;
    });
    return found;
}

// The kernel's btrfs ioctl argument (linux/btrfs.h): a path, as
// `btrfs device scan` passes it.
struct BtrfsVolArgs {
    int64_t fd;
    char name[4088];
};
constexpr unsigned long btrfs_ioc_scan_dev = _IOW(0x94, 4, BtrfsVolArgs);
static_assert(sizeof(BtrfsVolArgs) == 4096, "struct btrfs_ioctl_vol_args");

BtrfsScan register_btrfs_devices(const char* control) {
    BtrfsScan r;
    int cfd = open(control, O_RDWR | O_CLOEXEC);
    if (cfd < 0) {
        r.control_errno = errno;
        return r;
    }
    for_each_block_device([&](const char* name) {
        char dev[300];
        snprintf(dev, sizeof dev, "/dev/%s", name);
        FsIdentity id;
        if (!read_fs_identity(dev, &id) || strcmp(id.type, "btrfs") != 0) return false;
        BtrfsVolArgs args;
        memset(&args, 0, sizeof args);
        snprintf(args.name, sizeof args.name, "%s", dev);
        if (ioctl(cfd, btrfs_ioc_scan_dev, &args) == 0) {
            ++r.registered;
        } else {
            ++r.failed;
            if (!r.first_failure[0]) snprintf(r.first_failure, sizeof r.first_failure, "%s: %s", dev, strerror(errno));
        }
        return false;
    });
    close(cfd);
    return r;
}

} // namespace earlymod
