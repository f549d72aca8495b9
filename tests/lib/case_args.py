"""Argument lists of modprobe cases: long name lists split into several
cases (one exec's arguments must stay well under ARG_MAX), and case names
made of the arguments.

    import case_args
    case_args.many("all-modules:-a,-D", ["-a", "-D"], names, make_case)
    case_args.slug(["-b", "-D", "xfs"])      # "-b,-D,xfs"
"""

ARGS_BYTES = 512 * 1024  # split argument lists above this (ARG_MAX: 2 MiB)


def chunks(words, limit=ARGS_BYTES, max_words=None):
    """words in runs of at most limit bytes (each word counted with its
    terminating NUL) and, when given, at most max_words words."""
    out, cur, size = [], [], 0
    for w in words:
        n = len(w.encode("utf-8", "surrogateescape")) + 1
        if cur and (size + n > limit or (max_words and len(cur) >= max_words)):
            out.append(cur)
            cur, size = [], 0
        cur.append(w)
        size += n
    if cur:
        out.append(cur)
    return out


def many(name, flags, words, make_case, max_words=None):
    """Cases running flags over all of words: one, or NAME#i/n when the
    words need several calls (chunks). make_case(name, flags, words)
    builds a case (each test has its own case class)."""
    parts = chunks(words, max_words=max_words)
    if len(parts) == 1:
        return [make_case(name, flags, parts[0])]
    return [make_case(f"{name}#{i + 1}/{len(parts)}", flags, p)
            for i, p in enumerate(parts)]


def slug(args):
    """A case name made of its arguments ("(none)" for no arguments)."""
    return ",".join(a.replace(" ", "_") for a in args) if args else "(none)"
