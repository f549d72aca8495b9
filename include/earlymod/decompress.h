// Userspace decompression of kernel module files (.ko.gz, .ko.xz, .ko.zst).
//
// Why this exists: a kernel built without CONFIG_MODULE_DECOMPRESS (or
// without the matching algorithm) cannot load a compressed module through
// finit_module(MODULE_INIT_COMPRESSED_FILE). earlymod then decompresses the
// file itself and hands the plain ELF image to init_module().
//
// Why the decoders are written here instead of linking zlib, liblzma or
// libzstd: the program is static, runs as PID 1 before any filesystem but
// the initramfs exists, and must stay small. The three decoders together
// are a few tens of KiB, need no C++ runtime and no exceptions, and work on
// whole in-memory files, which keeps them simple: the output buffer itself
// is the LZ77 window.
//
// Safety contract (the input is untrusted as far as these functions are
// concerned: a truncated or damaged module must not take PID 1 down):
//   - every input read is bounds-checked; corrupt input returns an error,
//     never a crash, a hang or an out-of-bounds access;
//   - the output never grows beyond the caller's max_output;
//   - integrity checks carried by the format are verified (gzip CRC32 and
//     ISIZE, xz CRC32/CRC64/SHA-256 and index, zstd XXH64 content checksum
//     when present), so a decoded result is either right or an error.
//
// Decoding uses no mutable global state (the CRC tables are constant data,
// computed at compile time): any number of threads may decode at once, as
// the parallel loader's workers do (tests/unit/test_concurrency.cpp).
#pragma once

#include <stddef.h>

namespace earlymod {

enum class Compression { none, gzip, xz, zstd };

// Detect by magic bytes: gzip 1f 8b, xz fd 37 7a 58 5a 00, zstd 28 b5 2f fd.
// Anything else (including a too-short buffer) is Compression::none: the
// caller then treats the file as a plain ELF module. A zstd skippable frame
// at the start is not recognised; kmod and the kernel build never write one.
Compression detect_compression(const unsigned char* data, size_t size);

// "none", "gzip", "xz" or "zstd" (static strings, for messages and logs).
const char* compression_name(Compression c);

struct Decompressed {
    unsigned char* data; // malloc'd, caller frees with free(); null on error.
                         // Non-null on success even for empty output.
    size_t size;         // number of decompressed bytes
    const char* error;   // null on success; otherwise a static English
                         // message, e.g. "xz: corrupt LZMA2 chunk"
};

// Decompress a whole in-memory file. max_output bounds memory use: once the
// output would grow past it, decoding stops with an error. The output lives
// in one malloc'd buffer grown by doubling (never past max_output; realloc
// may briefly hold the old and the new buffer), plus fixed decoder state:
// about 30 KiB for xz, 140 KiB for zstd, none on the heap for gzip. A zstd
// frame that states its size is allocated once, up front.
//
// Supported:
//   gzip: one or more members; stored, fixed and dynamic Huffman blocks;
//         FEXTRA/FNAME/FCOMMENT/FHCRC header fields. Trailing bytes that are
//         not another member are an error.
//   xz:   one or more streams with stream padding, any number of blocks,
//         the LZMA2 filter only (BCJ/delta filter chains are refused), check
//         types none, CRC32, CRC64 and SHA-256 (all verified); the index is
//         checked against the blocks actually decoded.
//   zstd: one or more frames, skippable frames, raw/RLE/compressed blocks,
//         every literal and sequence table mode, XXH64 content checksum.
//         Frames that need a dictionary are refused.
// Compression::none copies the input (still bounded by max_output).
Decompressed decompress(Compression c, const unsigned char* data, size_t size,
                        size_t max_output);

} // namespace earlymod
