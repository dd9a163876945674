"""Attribute expressions: `Attractive and not Male and (Big_Lips or not High_Cheekbones)`.

A tiny grammar, parsed without eval: attribute names, `and`, `or`, `not` and parentheses, with
the usual precedence (not > and > or). An attribute is true where its CelebA value is 1.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable, Sequence

import numpy as np

from ganlab.errors import ParamsError

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z_][A-Za-z0-9_]*|\S)")
_KEYWORDS = {"and", "or", "not"}
# Brackets and `not`s an expression may nest. Parsing and evaluating both recurse once per level
# (parsing four Python frames per bracket), so a limit far under Python's 1000 frames turns
# "((((...))))" into a one-line error instead of a RecursionError; no real filter comes near it.
MAX_DEPTH = 50

# A compiled expression: (attribute matrix (N, A) of -1/1, attribute names) -> bool (N,).
Predicate = Callable[[np.ndarray, Sequence[str]], np.ndarray]


def compile_expression(text: str, where: str) -> Predicate:
    """Parse `text`; syntax errors raise ParamsError naming `where` and the offending token."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        raise ParamsError(f"{where}: empty attribute expression")
    pos = 0
    depth = 0

    def nested(parse: Callable[[], Predicate]) -> Predicate:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise ParamsError(f"{where}: expression nests brackets and 'not's deeper than {MAX_DEPTH} levels")
        try:
            return parse()
        finally:
            depth -= 1

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise ParamsError(f"{where}: expression {text!r} ends too early")
        pos += 1
        return tok

    def or_expr() -> Predicate:
        terms = [and_expr()]
        while peek() == "or":
            take()
            terms.append(and_expr())
        return terms[0] if len(terms) == 1 else lambda a, n: np.logical_or.reduce([t(a, n) for t in terms])

    def and_expr() -> Predicate:
        terms = [not_expr()]
        while peek() == "and":
            take()
            terms.append(not_expr())
        return terms[0] if len(terms) == 1 else lambda a, n: np.logical_and.reduce([t(a, n) for t in terms])

    def not_expr() -> Predicate:
        if peek() == "not":
            take()
            inner = nested(not_expr)
            return lambda a, n: ~inner(a, n)
        return atom()

    def atom() -> Predicate:
        tok = take()
        if tok == "(":
            inner = nested(or_expr)
            if peek() != ")":
                raise ParamsError(f"{where}: missing ')' in {text!r}")
            take()
            return inner
        if tok in _KEYWORDS or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tok):
            raise ParamsError(f"{where}: unexpected {tok!r} in {text!r}")
        return lambda a, n, name=tok: a[:, _column(name, n, where)] == 1

    pred = or_expr()
    if pos != len(tokens):
        raise ParamsError(f"{where}: unexpected {tokens[pos]!r} in {text!r}")
    return pred


def _column(name: str, names: Sequence[str], where: str) -> int:
    names = list(names)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else (f" (known: {', '.join(names)})" if names else " (the data set has no attributes)")
        raise ParamsError(f"{where}: unknown attribute '{name}'{hint}")
    return names.index(name)


def evaluate(text: str, attributes: np.ndarray, names: Sequence[str], where: str) -> np.ndarray:
    """Boolean mask (N,) of the rows of `attributes` (N, A; -1/1) that satisfy expression `text`."""
    return np.asarray(compile_expression(text, where)(attributes, names), dtype=bool).reshape(len(attributes))
