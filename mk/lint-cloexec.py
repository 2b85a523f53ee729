#!/usr/bin/env python3
"""Close-on-exec at birth: every call that creates a file descriptor in our C code must ask for
O_CLOEXEC / SOCK_CLOEXEC / EPOLL_CLOEXEC / ... in the same statement (fopen needs the "e" mode flag).
A deliberate exception carries a `cloexec-ok: why` comment in the statement. Exits 1 and lists the
offenders. Usage: lint-cloexec.py [DIR...] (default: the project's C directories)."""
import os, re, sys

CALLS = r"open|openat|openat2|creat|socket|socketpair|pipe|pipe2|accept|accept4|epoll_create|epoll_create1|" \
        r"signalfd|timerfd_create|eventfd|inotify_init|inotify_init1|memfd_create|dup|dup2|dup3|fopen|fdopen|" \
        r"opendir|open_tree|fsopen|fsmount|pidfd_open|userfaultfd"
CALL_RE = re.compile(r"(?<![\w.>])(" + CALLS + r")\s*\(")
OK_RE = re.compile(r"CLOEXEC|cloexec-ok:")
# Calls that cannot take a flag and are fine by construction.
ALWAYS_OK = {"fdopen", "opendir"}  # fdopen wraps an existing fd; opendir uses O_CLOEXEC in glibc and musl
NEVER_OK = {"pipe", "dup", "dup2", "accept", "epoll_create", "inotify_init", "creat"}

def statement(text, start):
    end = text.find(";", start)
    return text[start:end if end >= 0 else len(text)]

def strip_comments_keep_marker(src):
    # Drop string literals' contents would be nicer, but fd calls rarely hide in strings. A comment is kept only
    # when it holds the marker itself (a lookahead would see any later marker in the file); newlines stay, so
    # that line numbers do.
    return re.sub(r"/\*.*?\*/", lambda m: m.group(0) if "cloexec-ok:" in m.group(0) else re.sub(r"[^\n]", " ", m.group(0)),
                  src, flags=re.S)

def check_file(path):
    bad = []
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    text = strip_comments_keep_marker(src)
    text = re.sub(r"//(?!.*cloexec-ok:).*", "", text)
    for m in CALL_RE.finditer(text):
        name = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        prefix = text[max(0, m.start() - 40):m.start()]
        # Declarations and definitions of functions that merely share a name are not calls.
        if re.search(r"(int|void|static|FILE \*|DIR \*)\s*$", prefix):
            continue
        stmt = statement(text, m.start())
        if name in ALWAYS_OK:
            continue
        # Duplicating onto stdin/stdout/stderr is how a child's stdio is meant to be inherited.
        if name in ("dup2", "dup3") and re.match(r"dup[23]\s*\([^,]+,\s*(STD(IN|OUT|ERR)_FILENO|[012])\s*[,)]", stmt):
            continue
        if name == "fopen":
            mode = re.search(r',\s*"([^"]*)"', stmt)
            if mode and "e" in mode.group(1) or "cloexec-ok:" in stmt:
                continue
        elif name not in NEVER_OK and OK_RE.search(stmt):
            continue
        elif name in NEVER_OK and "cloexec-ok:" in stmt:
            continue
        bad.append((path, line, name, " ".join(stmt.split())[:100]))
    return bad

def main():
    dirs = sys.argv[1:] or ["agent", "init", "common", "proto", "launcher", "rootfs-builder", "libcontainer-c",
                            "netconfig", "storage", "tests", "bench", "fuzz"]
    bad = []
    for d in dirs:
        for root, _, files in os.walk(d):
            for fn in files:
                if fn.endswith(".c"):
                    bad += check_file(os.path.join(root, fn))
    for path, line, name, stmt in bad:
        print(f"{path}:{line}: {name}() without close-on-exec: {stmt}")
    print(f"lint-cloexec: {len(bad)} violation(s)")
    return 1 if bad else 0

sys.exit(main())
