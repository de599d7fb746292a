"""SecurityAccess (0x27) keys for the opt-in memory-read mode, and user-supplied hooks.

The seed/key exchange itself is udsoncan's (``Client.unlock_security_access`` with the
``security_algo`` client setting); this module only turns the bench's configuration (a fixed
key or a ``module:function`` reference) into that callable, and gives the simulator the same
key computation so tests run the exchange end to end.

**Naming an algorithm executes user-supplied code** (it is imported and called), exactly like
udsoncan's own ``security_algo`` configuration. It is only ever loaded when the user names it
on the command line or in the bench file; nothing is imported implicitly.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import BenchError
from .records import SecurityConfig

#: Longest key accepted from a key algorithm (ISO 14229 leaves it open; real keys are 2-32 bytes).
MAX_KEY_BYTES = 255


class SecurityKeyError(BenchError):
    """The configured key algorithm could not be loaded or did not return a usable key."""


def load_callable(reference: str) -> Callable[..., Any]:
    """Import ``module:function`` (or ``path/to/file.py:function``) and return the function.

    This executes the named module's code: only call it with a reference the user gave.

    >>> load_callable("zlib:crc32")(b"123456789") == 0xCBF43926
    True
    """
    module_name, sep, func_name = str(reference).rpartition(":")
    if not sep or not module_name or not func_name:
        raise SecurityKeyError(f"{reference!r} is not a 'module:function' reference")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            name = f"ecuscan_user_hook_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise SecurityKeyError(f"cannot load {module_name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except SecurityKeyError:
        raise
    except Exception as exc:  # any error while importing user code is a configuration problem
        raise SecurityKeyError(f"cannot import {module_name!r} for {reference!r}: {type(exc).__name__}: {exc}") \
            from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise SecurityKeyError(f"{reference!r}: {module_name} has no callable {func_name!r}")
    return func  # type: ignore[no-any-return]


def key_function(config: SecurityConfig) -> Callable[[int, bytes], bytes]:
    """``(level, seed) -> key`` for ``config``: the fixed key, or the named algorithm (checked)."""
    if config.key is not None:
        fixed = bytes(config.key)
        return lambda level, seed: fixed
    if config.algorithm is None:
        raise SecurityKeyError(f"security level {config.level:#04x}: no key and no key algorithm configured")
    func = load_callable(config.algorithm)
    ref = config.algorithm

    def compute(level: int, seed: bytes) -> bytes:
        try:
            key = func(level, bytes(seed))
        except Exception as exc:  # user code: any failure is reported, never raised raw
            raise SecurityKeyError(f"key algorithm {ref} raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(key, bytes | bytearray) or not 0 < len(key) <= MAX_KEY_BYTES:
            raise SecurityKeyError(f"key algorithm {ref} returned {type(key).__name__} "
                                   f"(need 1..{MAX_KEY_BYTES} bytes)")
        return bytes(key)

    return compute


def udsoncan_algo(config: SecurityConfig) -> Callable[[int, bytes, Any], bytes]:
    """The callable for udsoncan's ``security_algo`` client setting.

    udsoncan inspects the parameter names (``level``, ``seed``, ``params``) to decide what to pass.
    """
    compute = key_function(config)

    def security_algo(level: int, seed: bytes, params: Any = None) -> bytes:
        return compute(level, seed)

    return security_algo
