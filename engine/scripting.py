"""A restricted script environment for conditions, input mappings and script tasks (RestrictedPython)."""

import ast
import builtins
import datetime as dt
import decimal
import functools
import math
import sys
import time
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.errors import ScriptError
from engine.expressions import to_python

_EXTRA_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("all", "any", "dict", "enumerate", "filter", "list", "map", "max", "min", "reversed", "set", "sum", "sorted", "frozenset")
}

_ALLOWED_NAMES = {
    "Decimal": decimal.Decimal,
    "date": dt.date,
    "datetime": dt.datetime,
    "timedelta": dt.timedelta,
    "timezone": dt.timezone,
    "math": math,
}


def _inplace(operator: str, target: Any, value: Any) -> Any:
    operations = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
    }
    if operator not in operations:
        raise ScriptError(f"operator {operator} is not allowed in scripts; write the assignment out in full")

    return operations[operator](target, value)


def _base_globals() -> dict[str, Any]:
    builtins = dict(safe_builtins)
    builtins.update(_EXTRA_BUILTINS)
    return {
        "__builtins__": builtins,
        "_getattr_": safer_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplace,
        **_ALLOWED_NAMES,
    }


_BASE_GLOBALS = _base_globals()
_RESERVED = set(_BASE_GLOBALS)


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str):
    """Compile one expression under RestrictedPython's rules; raise ScriptError when it breaks them."""
    source = to_python(expression)
    try:
        result = compile_restricted_eval(source, "<expression>")
    except (RecursionError, MemoryError) as error:
        raise ScriptError(f"expression of {len(expression)} characters is nested too deeply to compile; simplify it") from error
    if result.errors:
        raise ScriptError(f"expression {expression!r} is not allowed: {'; '.join(result.errors)}")

    return result.code


@functools.lru_cache(maxsize=1024)
def compile_script(script: str):
    """Compile a script task's body under RestrictedPython's rules; raise ScriptError when it breaks them."""
    try:
        tree = ast.parse(script, "<script>")
        result = compile_restricted_exec(tree, "<script>")
    except SyntaxError as error:
        raise ScriptError(f"script has a syntax error on line {error.lineno}: {error.msg}") from error
    except (RecursionError, MemoryError) as error:
        raise ScriptError("script is nested too deeply to compile; simplify it") from error
    if result.errors:
        raise ScriptError(f"script is not allowed: {'; '.join(result.errors)}")
    imports = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:
        raise ScriptError(f"script imports a module on line {imports[0]}; scripts cannot import, so use the names provided (Decimal, date, datetime, timedelta, math)")

    return result.code


# Maximum seconds a script or expression may run; a trace function checks it on every line and call.
SCRIPT_TIME_LIMIT = 2.0


class _Deadline:
    """Raise ScriptError from inside restricted code that runs past its time limit.

    The trace function receives every bytecode instruction (``f_trace_opcodes``),
    so a loop on one line is stopped too; the clock is read every 256 events.
    NOTE: a single long C-level call (``sum(range(10 ** 11))``,
    ``10 ** 10 ** 8``) runs no bytecode while it works, so the limit cannot
    interrupt it; only a separate process could.
    """

    CHECK_EVERY = 256

    def __init__(self, seconds: float, description: str):
        self.seconds = seconds
        self.description = description
        self.events = 0

    def __enter__(self):
        self.previous = sys.gettrace()
        self.expires = time.monotonic() + self.seconds
        caller = sys._getframe(1)
        caller.f_trace_opcodes = True
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info):
        sys.settrace(self.previous)
        return False

    def _trace(self, frame, event, arg):
        frame.f_trace_opcodes = True
        self.events += 1
        if self.events % self.CHECK_EVERY == 0 and time.monotonic() > self.expires:
            sys.settrace(self.previous)
            raise ScriptError(f"{self.description} ran longer than {self.seconds:g} s and was stopped; check it for an endless loop")
        return self._trace


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluates against task data with no imports, no file or OS access and no underscore attributes."""

    def evaluate(self, expression, context, external_context=None):
        code = compile_expression(expression)
        scope = dict(_BASE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        with _Deadline(SCRIPT_TIME_LIMIT, f"expression {expression[:80]!r}"):
            return eval(code, scope)  # noqa: S307 - compiled by RestrictedPython with guards

    def execute(self, script, context, external_context=None):
        code = compile_script(script)
        clashes = _RESERVED.intersection(context)
        if clashes:
            raise ScriptError(f"task data uses reserved names {sorted(clashes)}; rename those variables")

        scope = dict(_BASE_GLOBALS)
        scope.update(external_context or {})
        scope.update(context)
        with _Deadline(SCRIPT_TIME_LIMIT, "script"):
            exec(code, scope)  # noqa: S102 - compiled by RestrictedPython with guards

        for name, value in scope.items():
            if name in _RESERVED or name in (external_context or {}) or name.startswith("_"):
                continue
            if callable(value) and not isinstance(value, type):
                continue
            if isinstance(value, type(math)):
                continue
            context[name] = value
        return True

    def call_service(self, context, **kwargs):
        raise ScriptError("service tasks run through the worker, not the script engine")


def make_script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=RestrictedEnvironment())
