"""The short unified diff a FAIL report shows when two programs' stdout
differ: at most DIFF_LINES lines, cheap on outputs of many megabytes.

    import output_diff
    output_diff.short_diff(kmod_out, earlymod_out)
    output_diff.short_diff(static_out, host_out, "static", "host")
"""

import difflib
import re

DIFF_LINES = 30

HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def short_diff(a, b, a_name="kmod", b_name="earlymod"):
    """Unified diff of two outputs (bytes), first DIFF_LINES lines, cheap on
    large outputs: common leading and trailing lines are trimmed first."""
    al = a.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    bl = b.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    # Lines without a final newline are marked, so they show in the diff.
    for lst in (al, bl):
        if lst and not lst[-1].endswith("\n"):
            lst[-1] += "\\ (no newline at end)\n"
    pre = 0
    while pre < len(al) and pre < len(bl) and al[pre] == bl[pre]:
        pre += 1
    post = 0
    while (post < len(al) - pre and post < len(bl) - pre
           and al[-1 - post] == bl[-1 - post]):
        post += 1
    start = max(0, pre - 3)
    a_mid = al[start:len(al) - max(0, post - 3)][:400]
    b_mid = bl[start:len(bl) - max(0, post - 3)][:400]
    out = []
    for line in difflib.unified_diff(a_mid, b_mid, a_name, b_name, n=3):
        m = HUNK.match(line)
        if m:
            line = "@@ -%d%s +%d%s @@\n" % (int(m.group(1)) + start,
                                            m.group(2) or "",
                                            int(m.group(3)) + start,
                                            m.group(4) or "")
        out.append(line if line.endswith("\n") else line + "\n")
        if len(out) >= DIFF_LINES:
            break
    return "".join(out)
