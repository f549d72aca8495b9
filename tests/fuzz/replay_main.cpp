// A main() for the fuzz targets when they are built without libFuzzer:
// runs LLVMFuzzerTestOneInput() once on every file given, and on every
// regular file of every directory given (in name order), then prints
// "N passed, 0 failed". A target that finds a problem aborts, so a
// failing input ends the run; the file's name is printed then. An input
// that runs longer than FUZZ_REPLAY_TIMEOUT seconds (default 60) fails
// the same way.
//
//   fuzz_dep_text tests/fuzz/corpus/dep_text [more files or dirs...]
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// In sanitizer builds: called before the sanitizer ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

const char* current_file = nullptr;

void say_current() {
    if (!current_file) return;
    static const char head[] = "replay: the input that failed: ";
    (void)!write(2, head, sizeof head - 1);
    (void)!write(2, current_file, strlen(current_file));
    (void)!write(2, "\n", 1);
}

void on_alarm(int) {
    static const char msg[] = "replay: timeout\n";
    (void)!write(2, msg, sizeof msg - 1);
    say_current();
    _exit(1);
}

void on_signal(int sig) {
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

bool read_file(const std::string& path, std::vector<uint8_t>& out) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out.clear();
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            close(fd);
            return false;
        }
        if (n == 0) break;
        out.insert(out.end(), buf, buf + n);
    }
    close(fd);
    return true;
}

void collect(const std::string& path, std::vector<std::string>& files, bool& bad) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        fprintf(stderr, "replay: cannot read %s: %s\n", path.c_str(), strerror(errno));
        bad = true;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        files.push_back(path);
        return;
    }
    DIR* d = opendir(path.c_str());
    if (!d) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path.c_str(), strerror(errno));
        bad = true;
        return;
    }
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
        std::string p = path + "/" + n;
        if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(p);
    }
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
        return 2;
    }
    std::vector<std::string> files;
    bool bad = false;
    for (int i = 1; i < argc; ++i) collect(argv[i], files, bad);
    if (bad) return 1;
    if (files.empty()) {
        fprintf(stderr, "replay: no input files\n");
        return 1;
    }
    std::vector<uint8_t> data;
    size_t passed = 0, failed = 0;
    bool verbose = getenv("FUZZ_REPLAY_VERBOSE") != nullptr;
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) signal(sig, on_signal);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(say_current);
    signal(SIGALRM, on_alarm);
    unsigned timeout = 60;
    if (const char* t = getenv("FUZZ_REPLAY_TIMEOUT")) timeout = static_cast<unsigned>(atoi(t));
    for (const std::string& f : files) {
        if (!read_file(f, data)) {
            fprintf(stderr, "replay: cannot read %s\n", f.c_str());
            ++failed;
            continue;
        }
        if (verbose) fprintf(stderr, "replay: %s\n", f.c_str());
        // Exactly sized heap copy, so that sanitizers see reads past the end.
        uint8_t* copy = static_cast<uint8_t*>(malloc(data.size() ? data.size() : 1));
        if (!data.empty()) memcpy(copy, data.data(), data.size());
        current_file = f.c_str();
        alarm(timeout);
        LLVMFuzzerTestOneInput(copy, data.size());
        alarm(0);
        current_file = nullptr;
        free(copy);
        ++passed;
    }
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
