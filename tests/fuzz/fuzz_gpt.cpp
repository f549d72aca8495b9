// read_partition_uuid() (root=PARTUUID=: GPT and MBR partition tables) on
// a disk image made from the input, at any logical block size.
//
// Input: one byte choosing the block size passed (its low 4 bits index
// kBlockSizes: the sizes disks have, 0 for "find it from the image", and
// sizes no disk has, which must be refused), one byte for the partition
// number (0 must be refused), then the image, from byte 0.
// Checks: the answer is what a direct reading of the rules in
// root_device.h gives (the model below, which works on the bytes in memory
// with 128-bit offsets): in particular a disk with a 0xEE MBR entry never
// yields an MBR PARTUUID, a refused block size yields nothing, and no
// answer comes from bytes past the image's end.
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "earlymod/boot/root_device.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

const unsigned kBlockSizes[16] = {512, 1024, 2048, 4096, 0,    8192, 65536,  512,
                                  1,   511,  513,  1000, 3072, 4095, 131072, 0x80000000u};

uint64_t le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

bool pow2(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

std::string model(const uint8_t* img, size_t n, unsigned long number, unsigned bs) {
    // The bytes [off, off + len) when the image has them all.
    auto get = [&](unsigned __int128 off, size_t len) -> const uint8_t* {
        return off + len <= n ? img + static_cast<size_t>(off) : nullptr;
    };
    if (bs != 0 && !(bs >= 512 && bs <= 65536 && pow2(bs))) return "";
    if (number == 0 || number > 65536) return "";
    const uint8_t* mbr = get(0, 512);
    if (!mbr || mbr[510] != 0x55 || mbr[511] != 0xAA) return "";
    bool protective = false;
    for (int i = 0; i < 4; ++i) protective |= mbr[446 + 16 * i + 4] == 0xEE;
    char out[64];
    if (!protective) {
        snprintf(out, sizeof out, "%08x-%02lx", static_cast<unsigned>(le(mbr + 440, 4)), number);
        return out;
    }
    if (bs == 0) {
        bs = 512;
        for (unsigned p : {512u, 1024u, 2048u, 4096u}) {
            const uint8_t* s = get(p, 8);
            if (s && memcmp(s, "EFI PART", 8) == 0) {
                bs = p;
                break;
            }
        }
    }
    const uint8_t* h = get(bs, 92);
    if (!h || memcmp(h, "EFI PART", 8) != 0) return "";
    uint64_t header_size = le(h + 12, 4), my_lba = le(h + 24, 8), entries_lba = le(h + 72, 8);
    uint64_t count = le(h + 80, 4), entry_size = le(h + 84, 4);
    if (header_size < 92 || header_size > bs || my_lba != 1) return "";
    if (entry_size < 128 || entry_size > 4096 || !pow2(entry_size)) return "";
    if (number > count || entries_lba < 2) return "";
    const uint8_t* e = get((unsigned __int128)entries_lba * bs + (unsigned __int128)(number - 1) * entry_size, 128);
    if (!e) return "";
    const uint8_t* g = e + 16;
    snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3], g[2], g[1],
             g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    if (size < 2) return 0;
    unsigned bs = kBlockSizes[data[0] & 15];
    unsigned long number = data[1];
    const uint8_t* img = data + 2;
    size_t n = size - 2;

    static int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
    static char path[64];
    if (fd < 0) return 0;
    if (!path[0]) snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, static_cast<off_t>(n)) != 0) return 0;
    if (n > 0 && pwrite(fd, img, n, 0) != static_cast<ssize_t>(n)) return 0;

    char out[40];
    memset(out, 'x', sizeof out);
    bool found = read_partition_uuid(path, number, bs, out, sizeof out);
    FUZZ_CHECK(memchr(out, 0, sizeof out) != nullptr);
    std::string want = model(img, n, number, bs);
    FUZZ_CHECK2(found == !want.empty(), found ? std::string_view(out) : "(none)", want);
    if (found) FUZZ_CHECK2(want == out, std::string_view(out), want);
    return 0;
}
