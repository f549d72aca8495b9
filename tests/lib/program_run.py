"""Running one program of a test case: its stdout and its exit status, or a
description of why there is none (timeout, not runnable), and that status
as result lines print it.

    import program_run
    out, status = program_run.run_one(argv, env, timeout)
    program_run.describe_status(status)   # "1", "killed by signal 11", ...
"""

import subprocess


def run_one(argv, env, timeout, cwd=None, stderr=False):
    """(stdout bytes, exit status) of argv, stdin from /dev/null and stderr
    thrown away; with stderr=True, (stdout, stderr bytes, exit status). The
    status is an int (negative: killed by that signal) or, when the program
    timed out or could not start, a text saying so."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE if stderr else subprocess.DEVNULL,
                           env=env, cwd=cwd, timeout=timeout)
        out, err, status = p.stdout, p.stderr or b"", p.returncode
    except subprocess.TimeoutExpired as e:
        out, err, status = (e.stdout or b""), (e.stderr or b""), f"timeout after {timeout}s"
    except OSError as e:
        out, err, status = b"", b"", f"could not run: {e}"
    return (out, err, status) if stderr else (out, status)


def describe_status(rc):
    """An exit status of run_one as a FAIL report shows it."""
    if isinstance(rc, int) and rc < 0:
        return f"killed by signal {-rc}"
    return str(rc)
