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

#include "earlymod/files.h"
#include "earlymod/kernel_params.h"
#include "earlymod/memory.h"

namespace earlymod {

extern const char* const modules_load_dirs[];

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
