// Which modules are wanted at boot.
//
// In this order, a name seen twice counted once:
//   1. the kernel command line: rd.modules_load=, modules_load= (systemd),
//      rd.driver.pre= and rdloaddriver= (dracut), earlymodules=
//      (mkinitcpio); comma-separated, repeatable, in command line order;
//   2. modules-load.d files, with systemd's rules: *.conf in /etc, /run,
//      /usr/local/lib, /usr/lib and /lib (modules-load.d), merged and
//      sorted by file name; for a name in several directories the first
//      directory wins; a file that is a symlink to /dev/null masks the
//      name; one module per line; '#' and ';' start comments.
// When files are named explicitly (earlymod load FILE...), only those are
// read, as systemd-modules-load does.
#pragma once

#include <string_view>

#include "earlymod/config/kernel_params.h"
#include "earlymod/util/files.h"
#include "earlymod/util/memory.h"

namespace earlymod {

extern const char* const modules_load_dirs[];

// Limits on one modules-load.d file (which is also at most
// max_whole_file_bytes, see files.h), far above anything real: such files
// hold a few names each. Past max_modules_load_lines the file is refused;
// a line longer than max_modules_load_line_bytes (a module name is at most
// 63 bytes, an alias rarely over 100) is ignored. Both with an error
// naming the file (and line) and the limit.
constexpr size_t max_modules_load_lines = 100000;
constexpr size_t max_modules_load_line_bytes = 4096;

class WantedModules {
public:
    // Names from the command line keys above.
    void add_from_cmdline(const KernelParams& params);
    // Names from the modules-load.d directories (inside root).
    void add_from_dirs(const FsRoot& root);
    // Names from one file (a path inside root). Errors are logged.
    bool add_from_file(const FsRoot& root, std::string_view path);
    // Parses modules-load.d text; shown names it in messages.
    void parse(std::string_view text, std::string_view shown);
    // Adds a name unless already there.
    void add(std::string_view name);

    const Vec<std::string_view>& names() const { return names_; }

private:
    Arena arena_;
    Vec<std::string_view> names_;
    StrMap<bool> seen_;
};

} // namespace earlymod
