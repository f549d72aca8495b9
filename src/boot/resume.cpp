// resume=, resume_offset=, noresume: see resume.h.
#include "earlymod/boot/resume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "earlymod/boot/boot.h"
#include "earlymod/util/output.h"

namespace earlymod {

namespace {

// resume_offset= as the kernel reads it (kstrtoull, base 0): decimal, or
// hexadecimal after "0x". Octal (a leading 0) reads the same as decimal
// for the offsets swap tools print, which have no leading zero.
bool parse_offset(std::string_view s, uint64_t* out) {
    unsigned base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s.remove_prefix(2);
    }
    if (s.empty()) return false;
    uint64_t v = 0;
    for (char c : s) {
        unsigned d;
        if (c >= '0' && c <= '9')
            d = static_cast<unsigned>(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = static_cast<unsigned>(c - 'a' + 10);
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = static_cast<unsigned>(c - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base) return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

// One write of text to dir/leaf, as one write() (sysfs takes a value per
// write): the kernel's refusal comes back as errno.
Error write_value(const char* dir, const char* leaf, const char* text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, leaf);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Error::make(errno, "%s: %s", path, strerror(errno));
    size_t n = strlen(text);
    ssize_t w;
    while ((w = write(fd, text, n)) < 0 && errno == EINTR) {}
    int e = errno;
    close(fd);
    if (w < 0) return Error::make(e, "writing %s to %s: %s", text, path, strerror(e));
    if (static_cast<size_t>(w) != n) return Error::make(EIO, "writing %s to %s: short write", text, path);
    return {};
}

} // namespace

ResumeAsk resume_request(const KernelParams& params, unsigned long root_timeout_s, ResumeRequest* req, char* why,
                         size_t cap) {
    *req = ResumeRequest{};
    if (cap) why[0] = '\0';
    std::string_view v;
    if (params.has("noresume") || !params.get("resume", &v) || v.empty()) return ResumeAsk::none;
    req->shown = v;
    if (!parse_root_spec(v, &req->device)) {
        snprintf(why, cap,
                 "resume=%.*s: not a form earlymod understands (/dev/NAME, UUID=, LABEL=, PARTUUID=, MAJ:MIN)",
                 SV_ARG(v));
        return ResumeAsk::invalid;
    }
    std::string_view off;
    if (params.get("resume_offset", &off)) {
        if (!parse_offset(off, &req->offset)) {
            snprintf(why, cap, "resume_offset=%.*s: not a number of pages", SV_ARG(off));
            return ResumeAsk::invalid;
        }
        req->has_offset = true;
    }
    req->timeout_s = params.number("earlymod.resumetimeout", root_timeout_s, RootWait::max_wait_s);
    return ResumeAsk::resume;
}

Error write_resume(const char* power_dir, dev_t dev, const ResumeRequest& req) {
    char text[48];
    if (req.has_offset) {
        snprintf(text, sizeof text, "%llu", static_cast<unsigned long long>(req.offset));
        Error e = write_value(power_dir, "resume_offset", text);
        if (!e.ok()) return e;
    }
    snprintf(text, sizeof text, "%u:%u", major(dev), minor(dev));
    return write_value(power_dir, "resume", text);
}

} // namespace earlymod
