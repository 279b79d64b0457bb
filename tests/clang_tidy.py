#!/usr/bin/env python3
"""clang-tidy over lib/ and cmd/ with the checked-in .clang-tidy: any finding fails.

Usage: tests/clang_tidy.py SOURCE_DIR BUILD_DIR [--full]

BUILD_DIR needs compile_commands.json (scripts/build exports it). The test command leaves out
the clang static analyzer, which costs minutes of the 2 cores; --full runs every check of
.clang-tidy, analyzer included.

A file that passed is remembered (in ~/.cache/reuserun/clang-tidy, or $XDG_CACHE_HOME) under a
hash of what clang-tidy reads: its compile command (the clone's folders left out), the text of
the file and of every header the compiler's dependency file lists for it, .clang-tidy, the
checks and clang-tidy's version. Only a file whose text, or any header it includes, changed is
read again: a run on an unchanged tree takes seconds instead of minutes. A file without a
dependency file (not built yet) is always read.
"""
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shlex
import subprocess
import sys

# -Wno-unknown-warning-option: the build passes GCC-only warning flags that clang does not know.
# -Wno-sign-compare: clang reports it inside the kernel's NLMSG_OK macro (GCC, which builds with
# -Wsign-compare -Werror, does not).
EXTRA_ARGS = ["--extra-arg=-Wno-unknown-warning-option", "--extra-arg=-Wno-sign-compare"]


def compile_args(entry):
    return shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])


def dependencies(entry):
    """The files the compiler read for this entry, from the dependency file beside its object."""
    args = compile_args(entry)
    if "-o" not in args:
        return None
    directory = pathlib.Path(entry["directory"])
    depfile = directory / (args[args.index("-o") + 1] + ".d")
    if not depfile.exists():
        return None
    text = depfile.read_text().replace("\\\n", " ")
    return [directory / path for path in text.split(":", 1)[1].split()]


class Hashes:
    """Each file's content hash, read once per run."""

    def __init__(self):
        self.known = {}

    def of(self, path):
        path = path.resolve()
        if path not in self.known:
            self.known[path] = hashlib.sha256(path.read_bytes()).hexdigest()
        return self.known[path]


def cache_key(entry, source, build, hashes, fixed):
    files = dependencies(entry)
    if files is None:
        return None
    command = " ".join(compile_args(entry)).replace(str(source), "<src>").replace(str(build), "<build>")
    digest = hashlib.sha256(fixed)
    digest.update(command.encode())
    for path in files:
        digest.update(hashes.of(path).encode())
    return digest.hexdigest()


def tidy(entry, source, build, checks):
    command = ["clang-tidy", "-p", str(build), "--quiet", *checks, *EXTRA_ARGS, entry["file"]]
    result = subprocess.run(command, cwd=source, capture_output=True, text=True)
    return result.returncode, result.stdout + (result.stderr if result.returncode else "")


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: tests/clang_tidy.py SOURCE_DIR BUILD_DIR [--full]")
    source = pathlib.Path(sys.argv[1]).resolve()
    build = pathlib.Path(sys.argv[2]).resolve()
    full = sys.argv[3:] == ["--full"]
    checks = [] if full else ["--checks=-clang-analyzer-*"]
    # One entry a file (cmd/main.cpp is compiled for reuserun and reuserun-static): the one
    # that was built, so that its dependency file is there.
    by_file = {}
    for entry in json.loads((build / "compile_commands.json").read_text()):
        folder = pathlib.Path(entry["file"]).resolve().parent
        if folder != source / "cmd" and folder.parent != source / "lib":
            continue
        if entry["file"] not in by_file or dependencies(by_file[entry["file"]]) is None:
            by_file[entry["file"]] = entry
    entries = list(by_file.values())
    config = (source / ".clang-tidy").read_bytes()
    version = subprocess.run(["clang-tidy", "--version"], check=True,
                             capture_output=True).stdout
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    cache = cache / "reuserun" / "clang-tidy"
    cache.mkdir(parents=True, exist_ok=True)
    fixed = b"\0".join([config, " ".join(checks).encode(), version])
    hashes = Hashes()
    keys = {entry["file"]: cache_key(entry, source, build, hashes, fixed) for entry in entries}

    def check(entry):
        key = keys[entry["file"]]
        if key and (cache / key).exists():
            return entry["file"], 0, "", True
        status, output = tidy(entry, source, build, checks)
        if status == 0 and key:
            (cache / key).touch()
        return entry["file"], status, output, False

    failed, cached = [], 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for file, status, output, hit in pool.map(check, entries):
            cached += hit
            if status != 0:
                failed.append(file)
                print(output, end="")
    label = " --full" if full else ""
    if failed:
        print(f"clang-tidy{label}: findings in {len(failed)} of {len(entries)} files: "
              + ", ".join(os.path.relpath(f, source) for f in failed))
        return 1
    print(f"clang-tidy{label}: lib/ and cmd/ clean ({len(entries)} files, {cached} unchanged "
          "since a clean run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
