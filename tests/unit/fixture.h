// Helpers for tests: temporary fixture trees, files, and a writer for
// kmod's binary index format (so that the .bin reader is tested on files
// whose exact layout the test controls, damaged ones included).
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace fixture {

// A temporary directory removed when the object dies.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    // Writes (creating parent dirs) a file at path relative to the root.
    void write(const std::string& rel, const std::string& content) const;
    std::string read(const std::string& rel) const;
    void mkdir(const std::string& rel) const;

private:
    std::string path_;
};

struct IndexEntry {
    std::string key;
    std::string value;
    uint32_t priority;
};

// Bytes of a kmod binary index holding the entries (depmod's layout:
// Patricia trie, children written before parents).
std::string write_bin_index(const std::vector<IndexEntry>& entries);

// Runs a function with stdout and stderr captured into strings; returns
// the function's result.
struct Captured {
    int status;
    std::string out;
    std::string err;
};
Captured capture(int (*fn)(int, char**), std::vector<std::string> args);

// What the logger writes to stderr while fn runs.
template <typename F>
std::string stderr_of(F fn) {
    fflush(stderr);
    FILE* tmp = tmpfile();
    REQUIRE(tmp);
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string text;
    rewind(tmp);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, tmp)) > 0) text.append(buf, n);
    fclose(tmp);
    return text;
}

} // namespace fixture
