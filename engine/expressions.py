"""Translation of the expression forms Camunda Modeler writes into the Python the script engine runs.

Analysts write Python expressions. For convenience the engine also accepts
an expression wrapped in ``${...}`` with the JUEL operators ``&&``, ``||``,
``!``, ``eq``/``ne`` and the literals ``true``, ``false`` and ``null``. The
wrapper is removed and the operators rewritten before evaluation.
"""

import io
import re
import tokenize

_JUEL_WORDS = {"true": "True", "false": "False", "null": "None", "eq": "==", "ne": "!=", "and": "and", "or": "or", "not": "not"}
_WRAPPED = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)

# ISO 8601 forms that a timer may hold unquoted: a duration, a recurring interval or a date-time.
_ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$", re.IGNORECASE)
_ISO_CYCLE = re.compile(r"^R\d*/\S+$", re.IGNORECASE)
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def to_python(expression: str) -> str:
    """Return ``expression`` as Python, unwrapping ``${...}`` and rewriting JUEL operators."""
    match = _WRAPPED.match(expression)
    if match is None:
        return expression.strip()

    return _rewrite_juel(match.group("body").strip())


def _rewrite_juel(body: str) -> str:
    body = body.replace("&&", " and ").replace("||", " or ")
    body = re.sub(r"!(?!=)", " not ", body)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(body).readline))
    except (tokenize.TokenError, IndentationError):
        return body

    rewritten = []
    for token in tokens:
        if token.type == tokenize.NAME and token.string in _JUEL_WORDS:
            token = token._replace(string=_JUEL_WORDS[token.string])
        rewritten.append(token)
    return tokenize.untokenize(rewritten).strip()


def is_iso_timer_literal(text: str) -> bool:
    """Tell whether ``text`` is an unquoted ISO 8601 duration, cycle or date-time."""
    value = text.strip()
    return bool(_ISO_DURATION.match(value) or _ISO_CYCLE.match(value) or _ISO_DATETIME.match(value))
