// decompress() with every decoder on the raw input, 16 MiB of output at
// most, and once more for the detected format with a small limit.
//
// Checks the contract of decompress.h: data is null exactly when error is
// set, the output never exceeds max_output, 'none' copies the input, and
// release() gives the budget back all it took.
#include <string.h>

#include "earlymod/decompress/decompress.h"
#include "fuzz_common.h"

using namespace earlymod;

namespace {

void run(Compression c, const uint8_t* data, size_t size, size_t max_output) {
    Decompressed d = decompress(c, data, size, max_output);
    FUZZ_CHECK((d.data == nullptr) == (d.error != nullptr));
    if (d.data) {
        FUZZ_CHECK(d.size <= max_output);
        if (c == Compression::none) FUZZ_CHECK(d.size == size && (size == 0 || memcmp(d.data, data, size) == 0));
        // Touch the whole output (ASan checks that it is all allocated).
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < d.size; i += 4096) sum = static_cast<unsigned char>(sum + d.data[i]);
        if (d.size) sum = static_cast<unsigned char>(sum + d.data[d.size - 1]);
    }
    d.release();
    // Every byte reserved from the budget is given back (one decode at a
    // time here).
    FUZZ_CHECK(decode_budget().in_use() == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::quiet();
    constexpr size_t max_output = 16u << 20;
    for (Compression c : {Compression::none, Compression::gzip, Compression::xz, Compression::zstd})
        run(c, data, size, max_output);
    Compression c = detect_compression(data, size);
    FUZZ_CHECK(compression_name(c) != nullptr);
    run(c, data, size, 4096);
    return 0;
}
