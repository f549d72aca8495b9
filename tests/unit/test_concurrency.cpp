// The decoders on many threads at once, as the parallel loader uses them
// (a worker decompresses a module when the kernel cannot).
//
// Two cases: the decoders called directly from 16 threads started
// together, and the load engine (LoadEngine) with 8 workers whose load function
// (Options::load_function) reads and decompresses each module file, the
// way LinuxKernel::load does without kernel decompression. Every output
// must be byte-identical to the module that was compressed.
//
// Meant to run under ThreadSanitizer (scripts/test's build-tsan), each
// case in a process of its own (tests/meson.build: concurrency-decode,
// concurrency-load): state a decoder builds on first use is only seen
// racing if the threads are its first users in the process. In the
// `unit` run, after other tests, they still check the outputs.
//
// A third case: decompression bombs on several threads and a normal
// module beside them, all on one memory budget (decompress.h): the budget
// is never passed, each bomb fails alone with ENOMEM, the normal module
// decodes every time.
//
// Inputs are compressed at test time by the real gzip, xz and zstd tools
// (xz with both CRC32, as kernel modules are, and CRC64 checks); a missing
// tool leaves its format out, with a message.
#include <doctest/doctest.h>

#include <earlymod/decompress/decompress.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "earlymod/engine/context.h"
#include "earlymod/engine/load_engine.h"
#include "earlymod/util/output.h"
#include "fake_kernel.h"
#include "fixture.h"
#include "watchdog.h"

using namespace earlymod;

namespace {

// A stand-in for a module: ~160 KiB of ELF-like bytes, partly text (which
// compresses well: long matches, Huffman and FSE tables) and partly noise
// (literals, raw blocks). seed makes each module different.
std::string module_bytes(unsigned seed) {
    std::string s =
        "\x7f"
        "ELF\x02\x01\x01";
    s.resize(64, '\0');
    uint32_t x = 2463534242u + seed * 2654435761u;
    auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x;
    };
    while (s.size() < 160 * 1024) {
        unsigned kind = next() % 4;
        if (kind == 0) {
            for (int i = 0; i < 512; ++i) s.push_back(static_cast<char>(next()));
        } else {
            s += "module_param_named(" + std::to_string(next() % 97) + "), symbol_" + std::to_string(next() % 31) +
                 " = license GPL; depends=libcrc32c,xor\n";
        }
    }
    return s;
}

bool have_tool(const char* name) {
    return system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

// One way of compressing a module: the tool's command (reading stdin,
// writing stdout) and the file suffix.
struct Format {
    const char* tool;
    const char* command;
    const char* suffix;
};
const Format formats[] = {
    {"gzip", "gzip -9 -n -c", ".ko.gz"},
    {"xz", "xz --check=crc32 --lzma2=dict=1MiB -c", ".ko.xz"}, // as kernel modules are
    {"xz", "xz --check=crc64 -c", ".ko.xz"},
    {"zstd", "zstd -q -19 -c", ".ko.zst"},
};

// The formats whose tool is installed (a missing one is reported once).
std::vector<const Format*> usable_formats() {
    std::vector<const Format*> v;
    for (const Format& f : formats) {
        if (have_tool(f.tool))
            v.push_back(&f);
        else
            MESSAGE(f.tool << " is not installed: its format is not tested");
    }
    return v;
}

// Compresses data with the format's tool, through files in dir.
std::string compress(const fixture::TempDir& dir, const Format& f, const std::string& data) {
    dir.write("in", data);
    std::string cmd = std::string(f.command) + " <'" + dir.path() + "/in' >'" + dir.path() + "/out'";
    REQUIRE_MESSAGE(system(cmd.c_str()) == 0, cmd);
    return dir.read("out");
}

// Decompresses and compares; returns "" or what went wrong.
std::string decode_and_compare(const std::string& compressed, const std::string& want) {
    auto* in = reinterpret_cast<const unsigned char*>(compressed.data());
    Compression c = detect_compression(in, compressed.size());
    if (c == Compression::none) return "not recognised as compressed";
    Decompressed d = decompress(c, in, compressed.size(), 64u << 20);
    std::string result;
    if (!d.data)
        result = std::string(compression_name(c)) + ": " + (d.error ? d.error : "(no message)");
    else if (d.size != want.size() || memcmp(d.data, want.data(), want.size()) != 0)
        result = std::string(compression_name(c)) + ": output differs from the input (" + std::to_string(d.size) +
                 " bytes, want " + std::to_string(want.size()) + ")";
    d.release();
    return result;
}

uint64_t now_ns() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

// ---- the decoders, directly ----------------------------------------------

struct Input {
    std::string compressed;
    const std::string* plain;
    std::string label;
};

struct DecodeRun {
    const std::vector<Input>* inputs;
    pthread_barrier_t start;
    unsigned rounds;
};

struct DecodeThread {
    DecodeRun* run;
    unsigned index;
    std::vector<std::string> errors; // written by this thread only, read after join
};

void* decode_thread(void* arg) {
    auto* t = static_cast<DecodeThread*>(arg);
    const std::vector<Input>& inputs = *t->run->inputs;
    // All threads begin decoding together: nothing before this point
    // touched a decoder in this process.
    pthread_barrier_wait(&t->run->start);
    for (unsigned r = 0; r < t->run->rounds; ++r) {
        for (size_t i = 0; i < inputs.size(); ++i) {
            // Each thread starts at a different format.
            const Input& in = inputs[(t->index + i) % inputs.size()];
            std::string e = decode_and_compare(in.compressed, *in.plain);
            if (!e.empty()) t->errors.push_back(in.label + ": " + e);
        }
    }
    return nullptr;
}

// ---- through the load engine ---------------------------------------------

// The load function: what LinuxKernel::load does when the kernel cannot
// decompress (read the file, decompress, init_module), with the kernel
// call replaced by a comparison with the module that was compressed.
struct Decoding {
    std::map<std::string, std::string> want; // module name -> its bytes (read-only during the run)
    unsigned rendezvous = 0;                 // the first calls wait (a while) for this many
    std::atomic<unsigned> arrived{0};
    std::atomic<int> running{0};
    std::atomic<int> peak{0};

    std::mutex lock;
    std::vector<std::string> errors;
    std::set<pthread_t> threads;
    unsigned calls = 0;

    static Error load(void* self, const Module& m, const char* host_path, std::string_view, unsigned) {
        auto* d = static_cast<Decoding*>(self);
        std::string name(m.name);
        // Let the workers meet before the first decode, so that as many
        // as possible decode at once (bounded: 5 s, should the engine run
        // fewer at a time).
        if (d->arrived.fetch_add(1) < d->rendezvous) {
            uint64_t until = now_ns() + 5000000000u;
            while (d->arrived.load() < d->rendezvous && now_ns() < until) sched_yield();
        }
        int r = d->running.fetch_add(1) + 1;
        for (int p = d->peak.load(); r > p && !d->peak.compare_exchange_weak(p, r);) {}

        std::string error;
        FILE* f = fopen(host_path, "rb");
        std::string file;
        if (!f) {
            error = "cannot open " + std::string(host_path);
        } else {
            char buf[65536];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) file.append(buf, n);
            fclose(f);
            auto it = d->want.find(name);
            error = it == d->want.end() ? "not a module of the test" : decode_and_compare(file, it->second);
        }
        d->running.fetch_sub(1);

        std::lock_guard<std::mutex> g(d->lock);
        ++d->calls;
        d->threads.insert(pthread_self());
        if (!error.empty()) {
            d->errors.push_back(name + ": " + error);
            return Error::make(ENOEXEC, "%s: %s", name.c_str(), error.c_str());
        }
        return {};
    }
};

// ---- bombs on one budget ---------------------------------------------------

struct BombRun {
    DecodeBudget* budget;
    pthread_barrier_t start;
    std::atomic<unsigned> bombs_running{0};
};

struct BombThread {
    BombRun* run;
    const std::string* compressed;
    const std::string* plain; // null: a bomb (its output is not kept)
    size_t plain_size;
    unsigned rounds;
    // Written by this thread only, read after join.
    unsigned ok = 0, budget_failures = 0, during_bombs = 0;
    std::vector<std::string> errors;
};

void* bomb_thread(void* arg) {
    auto* t = static_cast<BombThread*>(arg);
    auto* in = reinterpret_cast<const unsigned char*>(t->compressed->data());
    Compression c = detect_compression(in, t->compressed->size());
    pthread_barrier_wait(&t->run->start);
    if (!t->plain) t->run->bombs_running.fetch_add(1);
    for (unsigned r = 0; r < t->rounds; ++r) {
        bool bombs = t->run->bombs_running.load() > 0;
        Decompressed d = decompress(c, in, t->compressed->size(), 1u << 30, *t->run->budget);
        if (d.error && d.code == ENOMEM && strstr(d.error, "decompression memory"))
            ++t->budget_failures;
        else if (d.error)
            t->errors.push_back(std::string(compression_name(c)) + ": " + d.error);
        else if (d.size != t->plain_size || (t->plain && memcmp(d.data, t->plain->data(), d.size) != 0))
            t->errors.push_back(std::string(compression_name(c)) + ": wrong output");
        else
            ++t->ok;
        if (bombs && t->plain) ++t->during_bombs;
        d.release();
    }
    if (!t->plain) t->run->bombs_running.fetch_sub(1);
    return nullptr;
}

} // namespace

// Every load worker can decode a normal module at once (decompress.h).
static_assert(Context::max_jobs <= decompress_small_slots);

TEST_CASE(
    "concurrency: decompression bombs share one budget: the peak stays within it, each bomb fails alone, a "
    "normal module decoded beside them succeeds") {
    std::vector<const Format*> fmts = usable_formats();
    if (fmts.empty()) return;
    fixture::TempDir dir;
    // The process-wide budget is the one decompress() uses by default.
    CHECK(decode_budget().total() == decompress_budget_bytes);

    // A budget scaled down 32 times (16 MiB, small decodes up to 1 MiB,
    // room for 4 of them), so that the bombs are quick to decode even
    // under ThreadSanitizer: 32 MiB of zeros each, a few KiB compressed;
    // alone, one needs a 32 MiB buffer, more than the 12 MiB a large
    // decode may take.
    DecodeBudget budget(16u << 20, 1u << 20, 4);
    const size_t bomb_size = 32u << 20;
    std::string zeros(bomb_size, '\0');
    std::vector<std::string> bombs;
    for (unsigned i = 0; i < 4; ++i) bombs.push_back(compress(dir, *fmts[i % fmts.size()], zeros));
    zeros.clear();
    zeros.shrink_to_fit();
    std::string plain = module_bytes(7);
    std::string normal = compress(dir, *fmts[0], plain);

    constexpr unsigned n_bombs = 4, n_normal = 2;
    BombRun run;
    run.budget = &budget;
    REQUIRE(pthread_barrier_init(&run.start, nullptr, n_bombs + n_normal) == 0);
    std::vector<BombThread> threads(n_bombs + n_normal);
    for (unsigned i = 0; i < threads.size(); ++i) {
        BombThread& t = threads[i];
        t.run = &run;
        bool bomb = i < n_bombs;
        t.compressed = bomb ? &bombs[i] : &normal;
        t.plain = bomb ? nullptr : &plain;
        t.plain_size = bomb ? bomb_size : plain.size();
        t.rounds = bomb ? 3 : 40;
    }
    std::vector<pthread_t> ids(threads.size());
    {
        fixture::Watchdog watchdog("decompression bombs on one budget", 240);
        unsigned started = 0;
        for (size_t i = 0; i < threads.size(); ++i)
            if (pthread_create(&ids[i], nullptr, bomb_thread, &threads[i]) == 0) ++started;
        REQUIRE(started == threads.size()); // fewer would wait at the barrier for ever
        for (size_t i = 0; i < threads.size(); ++i) pthread_join(ids[i], nullptr);
    }
    pthread_barrier_destroy(&run.start);

    unsigned during = 0;
    for (size_t i = 0; i < threads.size(); ++i) {
        const BombThread& t = threads[i];
        CAPTURE(i);
        for (const std::string& e : t.errors) FAIL_CHECK(e);
        if (!t.plain) {
            CHECK(t.budget_failures == t.rounds); // each bomb: ENOMEM, never EFBIG or a crash
        } else {
            CHECK(t.ok == t.rounds); // the normal module: every time
            during += t.during_bombs;
        }
    }
    MESSAGE("peak " << budget.peak() << " of " << budget.total() << " bytes; " << during
                    << " normal decodes began while bombs ran");
    CHECK(budget.peak() <= budget.total());
    CHECK(budget.peak() > budget.total() / 4); // the bombs did press on it
    CHECK(budget.in_use() == 0);               // all given back
}

TEST_CASE("concurrency: decoders on 16 threads at once give byte-identical output") {
    std::vector<const Format*> fmts = usable_formats();
    if (fmts.empty()) return;
    fixture::TempDir dir;
    std::vector<std::string> plain;
    for (unsigned i = 0; i < fmts.size(); ++i) plain.push_back(module_bytes(i));
    std::vector<Input> inputs;
    for (unsigned i = 0; i < fmts.size(); ++i)
        inputs.push_back({compress(dir, *fmts[i], plain[i]), &plain[i], fmts[i]->command});

    constexpr unsigned n_threads = 16;
    DecodeRun run;
    run.inputs = &inputs;
    run.rounds = 2;
    REQUIRE(pthread_barrier_init(&run.start, nullptr, n_threads) == 0);
    std::vector<DecodeThread> threads(n_threads);
    std::vector<pthread_t> ids(n_threads);
    {
        fixture::Watchdog watchdog("decoding on 16 threads", 240);
        unsigned started = 0;
        for (unsigned i = 0; i < n_threads; ++i) {
            threads[i].run = &run;
            threads[i].index = i;
            if (pthread_create(&ids[i], nullptr, decode_thread, &threads[i]) == 0) ++started;
        }
        REQUIRE(started == n_threads); // fewer would wait at the barrier for ever
        for (unsigned i = 0; i < n_threads; ++i) pthread_join(ids[i], nullptr);
    }
    pthread_barrier_destroy(&run.start);
    for (unsigned i = 0; i < n_threads; ++i) {
        CAPTURE(i);
        for (const std::string& e : threads[i].errors) FAIL_CHECK("thread " << i << ": " << e);
    }
}

TEST_CASE("concurrency: the load engine with 8 workers decompresses .ko.xz, .ko.zst and .ko.gz in the workers") {
    std::vector<const Format*> fmts = usable_formats();
    if (fmts.empty()) return;
    fixture::TempDir root, work;
    Decoding dec;
    std::string dep;
    std::vector<std::string> wanted;
    // 8 modules of each format, none depending on another: the workers
    // can all load at once.
    for (unsigned i = 0; i < 8 * fmts.size(); ++i) {
        const Format& f = *fmts[i % fmts.size()];
        std::string name = "dz" + std::to_string(i);
        std::string bytes = module_bytes(100 + i);
        std::string rel = "kernel/drivers/" + name + f.suffix;
        root.write("lib/modules/1.0/" + rel, compress(work, f, bytes));
        dep += rel + ":\n";
        dec.want[name] = std::move(bytes);
        wanted.push_back(name);
    }
    root.write("lib/modules/1.0/modules.dep", dep);

    constexpr unsigned workers = 8;
    dec.rendezvous = workers;
    fixture::FakeKernel kernel;
    Options opt;
    opt.sysroot = root.path();
    opt.kernel_release = "1.0";
    opt.cmdline = nullptr;
    opt.kernel = &kernel;
    opt.load_function = Decoding::load;
    opt.load_context = &dec;
    int saved_verbosity = logger().verbosity;
    logger().verbosity = log_crit;
    Context ctx;
    REQUIRE(ctx.open(opt).ok());
    Error e;
    bool all_found = true;
    {
        fixture::Watchdog watchdog("the load engine with 8 workers", 240);
        LoadEngine engine(ctx);
        engine.start(workers);
        for (const std::string& n : wanted) all_found &= engine.submit(n, Origin::wanted);
        engine.wait(0);
        e = engine.last_failure();
    }
    logger().verbosity = saved_verbosity;
    CHECK_MESSAGE(e.ok(), e.message());
    CHECK(all_found);
    CHECK(dec.calls == wanted.size());
    for (const std::string& err : dec.errors) FAIL_CHECK(err);
    // The decoding happened in the workers, several at a time.
    CHECK(dec.threads.size() >= 2);
    CHECK(dec.peak.load() >= 2);
    MESSAGE(dec.threads.size() << " workers decoded, up to " << dec.peak.load() << " at once");
}
