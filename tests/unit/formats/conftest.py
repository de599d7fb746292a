"""Fixtures for the loader tests: ELF files compiled here with the system gcc."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

LIBDEP_C = "int dep_value(void) { return 42; }\n"
LIBFOO_C = """
#include <stdio.h>
int dep_value(void);
const char foo_banner[] = "libfoo version 3.1.4";
int foo_api(int x) { printf("%s %d\\n", foo_banner, x); return x + dep_value(); }
"""
FOO_MAP = "FOO_1.0 { global: foo_api; foo_banner; local: *; };\n"
HELLO_C = """
#include <stdio.h>
static int counter;
int helper(int x) { return x * 3 + counter; }
int main(int argc, char **argv) { (void)argv; printf("hello %d\\n", helper(argc)); return 0; }
"""


def _run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr}")


@pytest.fixture(scope="session")
def elf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of ELF files built with gcc: libdep.so, libfoo.so, hello, hello_stripped, hello_g, hello.o."""
    if shutil.which("gcc") is None:
        pytest.skip("the system gcc is not installed: ELF fixtures cannot be built")
    d = tmp_path_factory.mktemp("elf")
    (d / "dep.c").write_text(LIBDEP_C)
    (d / "foo.c").write_text(LIBFOO_C)
    (d / "foo.map").write_text(FOO_MAP)
    (d / "hello.c").write_text(HELLO_C)
    _run(["gcc", "-shared", "-fPIC", "-o", "libdep.so", "dep.c", "-Wl,-soname,libdep.so.2"], d)
    _run(["gcc", "-shared", "-fPIC", "-o", "libfoo.so", "foo.c", "-Wl,-soname,libfoo.so.3",
          "-Wl,--version-script=foo.map", "-Wl,--build-id=sha1", "-L.", "-ldep"], d)
    _run(["gcc", "-O1", "-o", "hello", "hello.c", "-Wl,--build-id=sha1"], d)
    _run(["gcc", "-O1", "-s", "-o", "hello_stripped", "hello.c"], d)
    _run(["gcc", "-g", "-O0", "-o", "hello_g", "hello.c"], d)
    _run(["gcc", "-c", "-g", "-o", "hello.o", "hello.c"], d)
    return d
