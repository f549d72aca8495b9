// `earlymod modinfo` and the `modinfo` personality: kmod's modinfo, same
// options, output, messages and exit status (kmod's tools/modinfo.c). The
// module's strings come from modinfo.h's reader, names and aliases are
// resolved by the Resolver as modprobe resolves them, but without any
// modprobe.d file: kmod's modinfo reads none.
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <new>

#include "commands.h"
#include "earlymod/decompress/decompress.h"
#include "earlymod/engine/context.h"
#include "earlymod/index/modinfo.h"
#include "earlymod/util/files.h"
#include "earlymod/util/output.h"
#include "earlymod/util/text.h"

namespace earlymod {

namespace {

const char modinfo_usage[] =
    "Usage:\n"
    "\t%1$s [options] <modulename|filename> [args]\n"
    "Options:\n"
    "\t-a, --author                Print only 'author'\n"
    "\t-d, --description           Print only 'description'\n"
    "\t-l, --license               Print only 'license'\n"
    "\t-p, --parameters            Print only 'parm'\n"
    "\t-n, --filename              Print only 'filename'\n"
    "\t-0, --null                  Use \\0 instead of \\n\n"
    "\t-m, --modname               Handle argument as module name instead of alias or filename\n"
    "\t-F, --field=FIELD           Print only provided FIELD\n"
    "\t-k, --set-version=VERSION   Use VERSION instead of `uname -r`\n"
    "\t-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules\n"
    "\t    --sysroot=DIR           Read the modules directory under DIR; print\n"
    "\t                            paths as seen inside DIR (a file named on the\n"
    "\t                            command line is read as given)\n"
    "\t-V, --version               Show version\n"
    "\t-h, --help                  Show this help\n"
    "Reads .ko, .ko.gz, .ko.xz and .ko.zst files. Names and aliases resolve\n"
    "through the modules directory's indexes only (no modprobe.d), as kmod's.\n";

enum LongOnly { opt_sysroot = 256 };

const struct option modinfo_options[] = {
    {"author", no_argument, nullptr, 'a'},
    {"description", no_argument, nullptr, 'd'},
    {"license", no_argument, nullptr, 'l'},
    {"parameters", no_argument, nullptr, 'p'},
    {"filename", no_argument, nullptr, 'n'},
    {"null", no_argument, nullptr, '0'},
    {"modname", no_argument, nullptr, 'm'},
    {"field", required_argument, nullptr, 'F'},
    {"set-version", required_argument, nullptr, 'k'},
    {"basedir", required_argument, nullptr, 'b'},
    {"sysroot", required_argument, nullptr, opt_sysroot},
    {"version", no_argument, nullptr, 'V'},
    {"help", no_argument, nullptr, 'h'},
    {nullptr, 0, nullptr, 0},
};

// The largest decompressed module read (as the loader's limit).
constexpr size_t max_module_bytes = size_t(512) << 20;

// One parameter, from its parm (description) and parmtype strings.
struct Param {
    std::string_view name, desc, type;
    bool has_desc, has_type;
};

struct Printer {
    OutBuf& out;
    const char* field; // null: every field
    char sep;

    void value(std::string_view v) { out.put(v.substr(0, v.find('\0'))).put(sep); }
    // "key:" padded as kmod's printf("%s:%-*s", key, 15 - keylen, ""):
    // a negative width is a '-' flag, so keys past 15 get keylen - 15.
    void keyed(std::string_view key, std::string_view v) {
        out.put(key).put(':');
        long pad = 15 - static_cast<long>(key.size());
        for (long i = pad < 0 ? -pad : pad; i > 0; --i) out.put(' ');
        value(v);
    }
    void label(const char* key, std::string_view v) {
        out.put(key);
        for (size_t i = strlen(key); i < 16; ++i) out.put(' ');
        value(v);
    }
};

// kmod's process_parm: parameters in reverse order of first mention.
bool add_param(Vec<Param>& params, std::string_view key, std::string_view value) {
    size_t colon = value.find(':');
    if (colon == std::string_view::npos) {
        log_message(log_err, "Found invalid \"%.*s=%.*s\": missing ':'", SV_ARG(key), SV_ARG(value));
        return true;
    }
    std::string_view name = value.substr(0, colon), rest = value.substr(colon + 1);
    Param* p = nullptr;
    for (Param& q : params)
        if (q.name == name) p = &q;
    if (!p) {
        if (!params.push(Param{name, {}, {}, false, false})) return false;
        p = &params.back();
    }
    if (key == "parm")
        p->desc = rest, p->has_desc = true;
    else
        p->type = rest, p->has_type = true;
    return true;
}

void put_cut(OutBuf& out, std::string_view s) {
    out.put(s.substr(0, s.find('\0')));
}

void print_params(Printer& pr, const Vec<Param>& params, bool field_only) {
    for (size_t i = params.size(); i-- > 0;) {
        const Param& p = params[i];
        if (!field_only) pr.out.put("parm:           ");
        put_cut(pr.out, p.name);
        if (!p.has_desc) {
            pr.out.put(field_only ? ": (" : ":");
            put_cut(pr.out, p.type);
            if (field_only) pr.out.put(')');
        } else {
            pr.out.put(':');
            put_cut(pr.out, p.desc);
            if (p.has_type) {
                pr.out.put(" (");
                put_cut(pr.out, p.type);
                pr.out.put(')');
            }
        }
        pr.out.put(pr.sep);
    }
}

class ModinfoCommand {
public:
    ModinfoCommand(Context& ctx, FsRoot root, OutBuf& out, const char* field, char sep)
        : ctx_(ctx), r_(ctx.resolver()), root_(root), pr_{out, field, sep} {}

    // kmod's modinfo_do for one module: 0, or -1 after saying why.
    int show(Module* m);

private:
    Error module_strings(Module* m, std::string_view path, Vec<ModinfoEntry>& list);
    Error file_strings(std::string_view path, bool on_host, Vec<ModinfoEntry>& list);
    void done_with_file() {
        image_.release();
        file_ = MappedFile();
    }

    Context& ctx_;
    Resolver& r_;
    FsRoot root_;
    Printer pr_;
    Arena arena_; // builtin modinfo, once
    MappedFile builtin_file_;
    bool builtin_read_ = false;
    Error builtin_error_;
    MappedFile file_; // the module being shown
    Decompressed image_;
    ModuleSignature sig_;
    Vec<char> hex_key_, hex_sig_;
};

// on_host: a file named on the command line, read as given; a modules.dep
// path is read under the sysroot.
Error ModinfoCommand::file_strings(std::string_view path, bool on_host, Vec<ModinfoEntry>& list) {
    char host[4096];
    const char* h = host;
    if (!on_host && root_.active()) {
        if (!root_.host_path(path, host, sizeof host))
            return Error::make(ENAMETOOLONG, "%.*s: path too long", SV_ARG(path));
    } else {
        h = path.data(); // NUL-terminated: the resolver's buffer or argv
    }
    Error e = file_.open(h, path);
    if (!e.ok()) return e;
    const unsigned char* data = file_.bytes();
    size_t size = file_.size();
    Compression c = detect_compression(data, size);
    if (c != Compression::none) {
        image_ = decompress(c, data, size, max_module_bytes);
        if (!image_.data)
            return Error::make(image_.code ? image_.code : EINVAL, "%.*s: %s", SV_ARG(path), image_.error);
        data = image_.data;
        size = image_.size;
    }
    e = read_modinfo(data, size, path, list);
    if (!e.ok()) return e;
    if (!read_module_signature(data, size, &sig_)) return {};
    hex_key_.clear();
    hex_sig_.clear();
    append_hex_wrapped(sig_.key_id, hex_key_);
    append_hex_wrapped(sig_.signature, hex_sig_);
    if (memory_exhausted()) return Error::make(ENOMEM, "out of memory");
    list.push({"sig_id", sig_.id_type});
    list.push({"signer", sig_.signer});
    list.push({"sig_key", {hex_key_.data(), hex_key_.size()}});
    list.push({"sig_hashalgo", sig_.hash_algo});
    list.push({"signature", {hex_sig_.data(), hex_sig_.size()}});
    return {};
}

Error ModinfoCommand::module_strings(Module* m, std::string_view path, Vec<ModinfoEntry>& list) {
    if (r_.is_builtin(m)) {
        if (!builtin_read_) {
            builtin_read_ = true;
            std::string_view shown = arena_.concat(ctx_.moddir(), "/modules.builtin.modinfo");
            char host[4096];
            if (!root_.host_path(shown, host, sizeof host))
                builtin_error_ = Error::make(ENAMETOOLONG, "%.*s: path too long", SV_ARG(shown));
            else
                builtin_error_ = builtin_file_.open(host, shown);
        }
        if (!builtin_error_.ok()) return builtin_error_;
        return read_builtin_modinfo(builtin_file_.text(), m->name, "modules.builtin.modinfo", list);
    }
    if (path.empty()) return Error::make(ENOENT, "%s", strerror(ENOENT));
    return file_strings(path, !m->file.empty(), list);
}

int ModinfoCommand::show(Module* m) {
    r_.load_deps(m);
    char buf[4096];
    std::string_view path = r_.path(m, buf, sizeof buf);
    std::string_view filename = path;
    const char* field = pr_.field;
    if (path.empty()) {
        if (!field)
            pr_.label("name:", m->name);
        else if (strcmp(field, "name") == 0)
            pr_.value(m->name);
        filename = "(builtin)";
    }
    if (field && strcmp(field, "filename") == 0) {
        pr_.value(filename);
        return 0;
    }
    if (!field) pr_.label("filename:", filename);

    Vec<ModinfoEntry> list;
    Error e = module_strings(m, path, list);
    int status = 0;
    if (!e.ok()) {
        done_with_file();
        // kmod: an old kernel without modules.builtin.modinfo is no error.
        if (path.empty() && e.code() == ENOENT && r_.is_builtin(m)) return 0;
        log_message(log_err, "could not get modinfo from '%.*s': %s", SV_ARG(m->name), e.message());
        return -1;
    }
    Vec<Param> params;
    if (field && strcmp(field, "parm") == 0) {
        for (const ModinfoEntry& en : list)
            if ((en.key == "parm" || en.key == "parmtype") && !add_param(params, en.key, en.value)) status = -1;
        print_params(pr_, params, true);
    } else {
        for (const ModinfoEntry& en : list) {
            if (field) {
                if (en.key == field) pr_.value(en.value);
                continue;
            }
            if (en.key == "parm" || en.key == "parmtype") {
                if (!add_param(params, en.key, en.value)) status = -1;
                continue;
            }
            if (pr_.sep == '\0') {
                put_cut(pr_.out, en.key);
                pr_.out.put('=');
                pr_.value(en.value);
                continue;
            }
            pr_.keyed(en.key, en.value);
        }
        if (!field) print_params(pr_, params, false);
    }
    done_with_file(); // after printing: the entries point into the file
    if (status < 0) log_message(log_err, "Out of memory!");
    return status;
}

// kmod's is_module_filename: a regular file whose name ends in a module
// extension.
bool is_module_filename(const char* arg) {
    struct stat st;
    std::string_view a = arg;
    return stat(arg, &st) == 0 && S_ISREG(st.st_mode) &&
           (ends_with(a, ".ko") || ends_with(a, ".ko.xz") || ends_with(a, ".ko.zst") || ends_with(a, ".ko.gz"));
}

} // namespace

int run_modinfo(int argc, char** argv) {
    Logger& lg = logger();
    lg.level_tags = true;
    const char* field = nullptr;
    char sep = '\n';
    bool by_modname = false;
    Options opt;
    opt.no_config_dirs = true;
    opt.cmdline = nullptr;
    opt.dry_run = true;
    optind = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "adlpn0mF:k:b:Vh", modinfo_options, nullptr);
        if (c == -1) break;
        switch (c) {
        case 'a': field = "author"; break;
        case 'd': field = "description"; break;
        case 'l': field = "license"; break;
        case 'p': field = "parm"; break;
        case 'n': field = "filename"; break;
        case '0': sep = '\0'; break;
        case 'm': by_modname = true; break;
        case 'F': field = optarg; break;
        case 'k': opt.kernel_release = optarg; break;
        case 'b': opt.root_dir = optarg; break;
        case opt_sysroot: opt.sysroot = optarg; break;
        case 'V': printf("earlymod version %s\n", EARLYMOD_VERSION); return 0;
        case 'h': printf(modinfo_usage, usage_name("modinfo")); return 0;
        default: return 1; // getopt has said what was wrong
        }
    }
    if (optind >= argc) {
        log_message(log_err, "missing module or filename.");
        return 1;
    }
    if (!opt.sysroot.empty() && !is_directory(opt.sysroot.data())) {
        log_message(log_err, "--sysroot %s: not a directory", opt.sysroot.data());
        return 1;
    }
    // Left to process exit, as modprobe's.
    Context* ctx = new (std::nothrow) Context;
    if (!ctx) {
        log_message(log_err, "out of memory");
        return 1;
    }
    Error err = ctx->open(opt);
    if (!err.ok()) {
        log_message(log_err, "%s", err.message());
        return 1;
    }
    OutBuf out(1);
    ModinfoCommand* cmd = new (std::nothrow) ModinfoCommand(*ctx, FsRoot(opt.sysroot), out, field, sep);
    if (!cmd) {
        log_message(log_err, "out of memory");
        return 1;
    }
    Resolver& r = ctx->resolver();
    int status = 0;
    for (int i = optind; i < argc; ++i) {
        const char* name = argv[i];
        Vec<Module*> list;
        if (by_modname) {
            Module* m = r.lookup_name(name);
            if (!m) {
                log_message(log_err, "Module name %s not found.", name);
                status = 1;
                continue;
            }
            list.push(m);
        } else if (is_module_filename(name)) {
            if (!r.lookup_file(name, list).ok()) {
                log_message(log_err, "Module file %s not found.", name);
                status = 1;
                continue;
            }
        } else {
            Error e = r.lookup(name, list);
            if (!e.ok()) {
                log_message(log_err, "Module alias %s not found.", name);
                status = 1;
                continue;
            }
            if (list.empty()) {
                log_message(log_err, "Module %s not found.", name);
                status = 1;
                continue;
            }
        }
        for (Module* m : list) {
            std::string_view file = m->file;
            if (cmd->show(m) < 0) status = 1;
            // A file named on the command line stands for this argument
            // only: the same name later means the modules dir's module.
            if (!file.empty()) m->file = {};
        }
    }
    if (!out.flush()) status = 1;
    if (memory_exhausted()) {
        log_message(log_err, "out of memory");
        return 1;
    }
    return status;
}

} // namespace earlymod
