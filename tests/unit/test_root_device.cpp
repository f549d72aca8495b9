// root=PARTUUID=: partition tables read from disk images built here, with
// every logical block size a disk may have (GPT puts its header at LBA 1,
// byte 4096 on a 4K-sector disk), and hostile headers.
#include <doctest/doctest.h>

#include <stdint.h>
#include <string.h>

#include <string>

#include "earlymod/boot/root_device.h"
#include "fixture.h"

using namespace earlymod;

namespace {

// The partition's unique GUID as root= names it, and as GPT stores it (the
// first three fields little-endian).
const std::string kPartUuid = "1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b";
const unsigned char kPartGuid[16] = {0x4e, 0x3d, 0x2c, 0x1b, 0x60, 0x5f, 0x18, 0x47,
                                     0x8a, 0x9b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b};
// Linux filesystem data: 0fc63daf-8483-4772-8e79-3d69d8477de4.
const unsigned char kLinuxType[16] = {0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
                                      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4};

void put32(std::string& s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
}
void put64(std::string& s, size_t at, uint64_t v) {
    put32(s, at, static_cast<uint32_t>(v));
    put32(s, at + 4, static_cast<uint32_t>(v >> 32));
}

// Header fields a test may spoil.
struct Gpt {
    unsigned block = 4096;    // logical block size the disk is laid out for
    uint64_t entries_lba = 2; // where the partition entry array starts
    uint32_t count = 128;     // entries in the array
    uint32_t entry_size = 128;
    uint32_t header_size = 92;
    uint64_t my_lba = 1;
    unsigned char mbr_type = 0xEE; // the protective MBR's partition type
};

// A disk of 64 blocks: protective MBR, GPT header at LBA 1, the entry
// array at entries_lba, partition 1 from LBA 34 to the end.
std::string gpt_disk(const Gpt& g) {
    std::string d(64 * size_t(g.block), '\0');
    d[446 + 4] = static_cast<char>(g.mbr_type);
    put32(d, 446 + 8, 1);
    put32(d, 446 + 12, 63);
    d[510] = '\x55';
    d[511] = '\xAA';
    size_t h = g.block;
    memcpy(&d[h], "EFI PART", 8);
    put32(d, h + 8, 0x00010000);
    put32(d, h + 12, g.header_size);
    put64(d, h + 24, g.my_lba);
    put64(d, h + 32, 63);
    put64(d, h + 40, 34);
    put64(d, h + 48, 62);
    put64(d, h + 72, g.entries_lba);
    put32(d, h + 80, g.count);
    put32(d, h + 84, g.entry_size);
    if (g.entries_lba < 64) {
        size_t e = g.entries_lba * g.block;
        memcpy(&d[e], kLinuxType, 16);
        memcpy(&d[e + 16], kPartGuid, 16);
        put64(d, e + 32, 34);
        put64(d, e + 40, 62);
    }
    return d;
}

// read_partition_uuid() on the image: the text, or "" when it finds none.
std::string partuuid(const std::string& image, unsigned long number, unsigned block_size) {
    fixture::TempDir dir;
    dir.write("disk.img", image);
    std::string path = dir.path() + "/disk.img";
    char out[40];
    memset(out, 'x', sizeof out);
    if (!read_partition_uuid(path.c_str(), number, block_size, out, sizeof out)) return "";
    REQUIRE(memchr(out, '\0', sizeof out) != nullptr);
    return out;
}

} // namespace

TEST_CASE("PARTUUID on a GPT disk with 4096-byte blocks: the partition's GUID, not the protective MBR") {
    std::string disk = gpt_disk(Gpt{});
    // The block size as BLKSSZGET gives it, and found from the image (a
    // file has no block size: the header is looked for).
    CHECK(partuuid(disk, 1, 4096) == kPartUuid);
    CHECK(partuuid(disk, 1, 0) == kPartUuid);
    // The protective MBR is not an MBR partition table: its signature (0)
    // and the partition number never make a PARTUUID.
    CHECK(partuuid(disk, 1, 4096) != "00000000-01");
    CHECK(partuuid(disk, 1, 0) != "00000000-01");
    CHECK(partuuid(disk, 1, 512) == "");
    // An unused entry number past the array.
    CHECK(partuuid(disk, 129, 4096) == "");
}

TEST_CASE("PARTUUID on GPT disks with 512, 1024 and 2048-byte blocks, and an entry array where the header says") {
    for (unsigned bs : {512u, 1024u, 2048u, 4096u}) {
        CAPTURE(bs);
        Gpt g;
        g.block = bs;
        CHECK(partuuid(gpt_disk(g), 1, bs) == kPartUuid);
        CHECK(partuuid(gpt_disk(g), 1, 0) == kPartUuid);
        g.entries_lba = 5;
        CHECK(partuuid(gpt_disk(g), 1, bs) == kPartUuid);
        CHECK(partuuid(gpt_disk(g), 1, 0) == kPartUuid);
    }
}

TEST_CASE("PARTUUID on an MBR disk: the disk signature and the partition number") {
    std::string d(4096, '\0');
    put32(d, 440, 0x0a1b2c3d);
    d[446 + 4] = '\x83';
    put32(d, 446 + 8, 2048);
    d[510] = '\x55';
    d[511] = '\xAA';
    CHECK(partuuid(d, 1, 512) == "0a1b2c3d-01");
    CHECK(partuuid(d, 5, 0) == "0a1b2c3d-05");
    // The same table with a 0xEE entry (protective or hybrid) is a GPT
    // disk whose header is missing: no PARTUUID at all.
    d[446 + 16 + 4] = '\xEE';
    CHECK(partuuid(d, 1, 512) == "");
    CHECK(partuuid(d, 1, 0) == "");
}

TEST_CASE("PARTUUID: hostile GPT headers and block sizes are refused, nothing read past the image") {
    auto refused = [](Gpt g, unsigned bs) { return partuuid(gpt_disk(g), 1, bs) == ""; };
    Gpt g;
    g.entry_size = 0;
    CHECK(refused(g, 4096));
    g.entry_size = 64; // smaller than an entry
    CHECK(refused(g, 4096));
    g.entry_size = 200; // not 128 * 2^n
    CHECK(refused(g, 4096));
    g.entry_size = 0x80000000u; // far too big
    CHECK(refused(g, 4096));
    g = Gpt{};
    g.count = 0;
    CHECK(refused(g, 4096));
    g = Gpt{};
    g.entries_lba = 0; // over the MBR and the header
    CHECK(refused(g, 4096));
    g.entries_lba = 1;
    CHECK(refused(g, 4096));
    g.entries_lba = UINT64_MAX / 4096 + 2; // the byte offset would wrap
    CHECK(refused(g, 4096));
    g.entries_lba = UINT64_MAX;
    CHECK(refused(g, 4096));
    g = Gpt{};
    g.header_size = 91; // shorter than the fields read
    CHECK(refused(g, 4096));
    g.header_size = 4097; // longer than its block
    CHECK(refused(g, 4096));
    g = Gpt{};
    g.my_lba = 7; // a header that is not at LBA 1
    CHECK(refused(g, 4096));
    g = Gpt{};
    g.mbr_type = 0x83; // no protective MBR: the kernel does not read the GPT either
    CHECK(partuuid(gpt_disk(g), 1, 4096) == "00000000-01");
    // Block sizes no disk has.
    for (unsigned bs : {1u, 511u, 513u, 1000u, 3072u, 4095u, 0x20000u, 0x80000000u}) {
        CAPTURE(bs);
        CHECK(refused(Gpt{}, bs));
    }
    // A number the partition table cannot hold; the image cut short.
    CHECK(partuuid(gpt_disk(Gpt{}), 0, 4096) == "");
    CHECK(partuuid(gpt_disk(Gpt{}), 0xFFFFFFFFul + 2, 4096) == "");
    CHECK(partuuid(gpt_disk(Gpt{}).substr(0, 4096 + 92), 1, 4096) == "");
    CHECK(partuuid(gpt_disk(Gpt{}).substr(0, 4096 + 50), 1, 0) == "");
    CHECK(partuuid("", 1, 0) == "");
}
