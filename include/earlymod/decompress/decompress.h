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
// Decoding uses no mutable global state but the memory budget below (the
// CRC tables are constant data, computed at compile time): any number of
// threads may decode at once, as the parallel loader's workers do
// (tests/unit/test_concurrency.cpp).
//
// Memory: max_output bounds one decode; a DecodeBudget bounds all of them
// together. Every decode reserves its output buffer's bytes from the
// process-wide decode_budget() before growing it, and gives them back when
// it fails or when the caller releases the result (Decompressed::release(),
// after the kernel has its copy). A decode that cannot reserve fails at
// once with code ENOMEM; the decodes that hold the memory go on. Without
// this, each worker could hold max_output: four 90 KB xz bombs at -j 4 held
// 2 GB, sixteen workers could hold 8 GiB, enough to take PID 1 down.
#pragma once

#include <stddef.h>

namespace earlymod {

// Bytes of decompressed output all decodes of the process may hold at
// once (output buffers, which grow by doubling; the decoders' fixed state
// is not counted). The largest module of Debian 6.1's tree, amdgpu, is
// 19 MB decompressed (a 32 MiB buffer while it grows); the next, i915,
// 6.8 MB.
constexpr size_t decompress_budget_bytes = size_t(512) << 20;
// A decode holding at most this much is small: room for
// decompress_small_slots of them is kept out of what larger decodes may
// take, so that a normal module decoded beside bombs (or beside a huge
// module) still succeeds. One slot per load worker (Context::max_jobs;
// tests/unit/test_concurrency.cpp checks). Larger decodes share the other
// 384 MiB: one alone can reach a 256 MiB buffer.
constexpr size_t decompress_small_bytes = size_t(8) << 20;
constexpr unsigned decompress_small_slots = 16;

// A count of bytes in flight, shared by the decodes that use it. Reserve
// succeeds while the total stays within `total`; a decode whose holding
// would pass `small` may only take what leaves small * small_slots free.
// Thread-safe (atomics, no lock).
class DecodeBudget {
public:
    constexpr DecodeBudget(size_t total, size_t small, unsigned small_slots)
        : total_(total), small_(small), kept_(small * small_slots < total ? small * small_slots : total) {}
    DecodeBudget(const DecodeBudget&) = delete;
    DecodeBudget& operator=(const DecodeBudget&) = delete;

    // Takes `extra` more bytes for a decode that holds `held` now.
    bool reserve(size_t held, size_t extra);
    void release(size_t bytes);

    size_t total() const { return total_; }
    size_t in_use() const;
    // The most ever in use at once (for tests and measurements).
    size_t peak() const;

private:
    const size_t total_, small_, kept_;
    size_t in_use_ = 0; // __atomic_* only
    size_t peak_ = 0;
};

// The process-wide budget: decompress_budget_bytes, decompress_small_bytes,
// decompress_small_slots.
DecodeBudget& decode_budget();

enum class Compression { none, gzip, xz, zstd };

// Detect by magic bytes: gzip 1f 8b, xz fd 37 7a 58 5a 00, zstd 28 b5 2f fd.
// Anything else (including a too-short buffer) is Compression::none: the
// caller then treats the file as a plain ELF module. A zstd skippable frame
// at the start is not recognised; kmod and the kernel build never write one.
Compression detect_compression(const unsigned char* data, size_t size);

// "none", "gzip", "xz" or "zstd" (static strings, for messages and logs).
const char* compression_name(Compression c);

struct Decompressed {
    unsigned char* data = nullptr;  // null on error. Non-null on success even
                                    // for empty output. Give it back with
                                    // release(), not free().
    size_t size = 0;                // number of decompressed bytes
    const char* error = nullptr;    // null on success; otherwise a static
                                    // English message, e.g. "xz: corrupt
                                    // LZMA2 chunk"
    int code = 0;                   // with error: ENOMEM (out of memory, or
                                    // the budget is in use), EFBIG (past
                                    // max_output), ENOEXEC (damaged input)
    DecodeBudget* budget = nullptr; // what data's bytes are reserved from
    size_t held = 0;                // and how many

    // Frees data and gives its bytes back to the budget. Idempotent.
    void release();
};

// Decompress a whole in-memory file. max_output bounds one decode's
// memory use: once the output would grow past it, decoding stops with an
// error (EFBIG); the budget bounds all decodes together (ENOMEM). The output lives
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
Decompressed decompress(Compression c, const unsigned char* data, size_t size, size_t max_output);
// The same, with the output's bytes reserved from `budget` instead of
// decode_budget() (tests).
Decompressed decompress(Compression c, const unsigned char* data, size_t size, size_t max_output, DecodeBudget& budget);

} // namespace earlymod
