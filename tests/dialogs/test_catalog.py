"""The message catalogs: zh and en match key for key, and every key the code can ask for exists.

Keys are found statically (with `ast`) in dialogs/ and bot/:

- string literals (and both arms of `a if c else b`) passed to `ctx.say(`, `ctx.t(`, `t(`, `ctx.button(`,
  `ctx.t.first([...])`, `Translator(...)(` and `Translator(...).__call__(`;
- f-string keys passed to those calls, expanded with the values they can take (`DYNAMIC_KEYS`); an
  f-string key not in that table fails the test until its values are listed there;
- dotted literals anywhere in the code that start with a catalog namespace ("menu.register" in the menu
  table, "bank_card.not_holder" handed to a helper that says it);
- the `<flow>.<slot>.prompt` convention of the engine, the label of every `Choice`, and the reasons
  `Invalid(...)` and the backend can give (shown as `error.<reason>`).
"""

from __future__ import annotations

import ast
import importlib
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import get_args

import pytest

from backend import accounts, bankcards, errors, identity_rules, queries
from dialogs import forms, registry
from dialogs.catalog import LANGS, load_catalog
from dialogs.flows import authenticator, quick_query

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("dialogs", "bot")
KEY_SHAPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
# Calls whose first argument is a catalog key, by the name of the called attribute or function.
KEY_TAKERS = {"say", "t", "button", "first"}
FILE_SUFFIXES = {"png", "pdf", "json", "txt", "py", "html", "js", "css", "pem", "crt", "ttf", "otf"}


def _zh_keys() -> set[str]:
    return set(load_catalog("zh"))


# -- what the code asks for ------------------------------------------------------------------------


@dataclass(frozen=True)
class Use:
    """One key (or key template, with `{}` for each f-string hole) the code uses, and where."""

    key: str
    where: str
    template: bool = False


def _python_files() -> Iterator[Path]:
    for top in SCANNED:
        yield from sorted((ROOT / top).rglob("*.py"))


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def _is_translator_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Translator"


def _takes_key(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "t"
    if _is_translator_call(func):  # Translator(lang)(key)
        return True
    if isinstance(func, ast.Attribute):
        if func.attr == "__call__":  # Translator(lang).__call__(key)
            return _is_translator_call(func.value)
        if func.attr == "first":  # ctx.t.first([keys])
            return isinstance(func.value, ast.Attribute) and func.value.attr == "t"
        return func.attr in KEY_TAKERS
    return False


def _template(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
        else:
            parts.append("{}")
    return "".join(parts)


def _key_expressions(node: ast.AST) -> Iterator[tuple[str, bool] | None]:
    """(key, is_template) for each key an argument can be; None when it can't be read statically."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value, False
    elif isinstance(node, ast.JoinedStr):
        yield _template(node), True
    elif isinstance(node, ast.IfExp):
        yield from _key_expressions(node.body)
        yield from _key_expressions(node.orelse)
    elif isinstance(node, ast.List | ast.Tuple):
        for element in node.elts:
            yield from _key_expressions(element)
    else:
        yield None


def _calls_with_keys(path: Path, tree: ast.Module) -> Iterator[Use]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and _takes_key(node):
            for found in _key_expressions(node.args[0]):
                if found is not None:
                    yield Use(found[0], _where(path, node), template=found[1])


def _invalid_reasons(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Invalid"
                and node.args and isinstance(node.args[0], ast.Constant)):
            yield node.args[0].value


def _dotted_literals(path: Path, tree: ast.Module, namespaces: set[str], reasons: set[str]) -> Iterator[Use]:
    """Keys in a catalog namespace wherever they sit: a menu table, a helper's argument
    (`self._fail(ctx, "bank_card.not_holder")`, `self._fail(ctx, f"bank_card.{outcome}")`)."""
    inside_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                       for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            template = _template(node)
            if template.split(".", 1)[0] in namespaces and "." in template and not template.startswith("{"):
                yield Use(template, _where(path, node), template=True)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings
              and KEY_SHAPE.fullmatch(node.value) and node.value.split(".", 1)[0] in namespaces
              and node.value not in reasons and node.value.rsplit(".", 1)[1] not in FILE_SUFFIXES):
            yield Use(node.value, _where(path, node))


def sms_purposes() -> set[str]:
    """Purposes given as literals to send_code/verify_code (2nd argument) and codes.issue (1st)."""
    position = {"send_code": 1, "verify_code": 1, "issue": 0}
    found = {"register", "bank_card", "request", "result"}
    for path in _python_files():
        for node in ast.walk(_parse(path)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            index = position.get(name)
            if index is not None and len(node.args) > index:
                arg = node.args[index]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
    return found


def _choice_values(*groups: tuple[forms.Choice, ...]) -> set[str]:
    return {choice.value for group in groups for choice in group}


# Every f-string key the code passes to the translator, with the values its hole can take.
# None: the code checks `ctx.t.has(...)` first and falls back, so a missing key is allowed.
DYNAMIC_KEYS: dict[str, set[str] | None] = {
    "level.{}": set(get_args(accounts.Level)) | {"low", "medium", "high"},
    "product.{}": set(queries.PRODUCTS) | {"hint", "summary", "report"},
    "status.{}": set(get_args(queries.Status)),
    "sms.{}": sms_purposes(),
    "quick_query.done_{}": _choice_values(quick_query.DECISION, quick_query.CLOSE),
    "authenticator.done_{}": _choice_values(authenticator.BIND, authenticator.REMOVE),
    "bank_card.{}": (set(get_args(bankcards.Outcome)) - {"ok"}) | {"unknown_card", "mismatch", "not_holder"},
    "id_type.{}": {key for _, key in identity_rules.ID_TYPES},
    "help.{}": None,
    # engine._reject: ctx.t.first([f"{flow}.{slot}.{reason}", f"error.{reason}"]): see the reason check.
    "error.{}": None,
}


def _all_choices() -> Iterator[tuple[str, forms.Choice]]:
    """Choices of every slot, and every Choice (tuple) defined in a dialogs module (choices_ hooks)."""
    for flow in registry.FLOWS:
        for slot in flow.slots:
            for choice in slot.choices:
                yield f"{flow.id}.{slot.name}", choice
    for path in (ROOT / "dialogs").rglob("*.py"):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name, value in vars(module).items():
            values = value if isinstance(value, tuple) else (value,)
            for item in values:
                if isinstance(item, forms.Choice):
                    yield f"{module.__name__}.{name}", item


def _flow_reasons() -> set[str]:
    """What a flow's validator can answer with: identity rules, code checks and Invalid(...) literals."""
    code_errors = {cls.reason for cls in _subclasses(errors.CodeError)} - {errors.ResendTooSoonError.reason}
    literal = {reason for path in _python_files() for reason in _invalid_reasons(_parse(path))}
    return set(identity_rules.REASONS) | code_errors | literal


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def missing_keys(keys: set[str]) -> list[str]:
    """Every problem found, as "where: what"; empty when the catalog with these keys covers the code."""
    problems: list[str] = []
    namespaces = {key.split(".", 1)[0] for key in keys}
    reasons = _flow_reasons()
    uses: list[Use] = []
    for path in _python_files():
        tree = _parse(path)
        uses.extend(_calls_with_keys(path, tree))
        uses.extend(_dotted_literals(path, tree, namespaces, reasons))
    for use in uses:
        if not use.template:
            if use.key not in keys:
                problems.append(f"{use.where}: key {use.key!r} is missing")
            continue
        if use.key.startswith("{}"):
            continue  # the engine's "<flow>.<slot>.prompt" and "<flow>.<slot>.<reason>": checked below
        if use.key not in DYNAMIC_KEYS:
            problems.append(f"{use.where}: f-string key {use.key!r}: list its values in DYNAMIC_KEYS")
            continue
        values = DYNAMIC_KEYS[use.key]
        for value in sorted(values or ()):
            if use.key.format(value) not in keys:
                problems.append(f"{use.where}: key {use.key.format(value)!r} is missing")
    for flow in registry.FLOWS:
        for slot in flow.slots:
            key = f"{flow.id}.{slot.name}.prompt"
            if slot.kind != "flow" and flow.hook("prompt", slot.name) is None and key not in keys:
                problems.append(f"flow {flow.id}: prompt key {key!r} is missing")
    for owner, choice in _all_choices():
        if choice.label_key not in keys:
            problems.append(f"{owner}: choice label {choice.label_key!r} is missing")
    flow_ids = {flow.id for flow in registry.FLOWS}
    for reason in sorted(reasons):
        specific = any(k.endswith(f".{reason}") and k.split(".", 1)[0] in flow_ids for k in keys)
        if f"error.{reason}" not in keys and not specific:
            problems.append(f"reason {reason!r}: key 'error.{reason}' is missing")
    return sorted(set(problems))


# -- the tests -------------------------------------------------------------------------------------


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def test_every_language_has_the_same_keys() -> None:
    zh = load_catalog("zh")
    for lang in LANGS:
        catalog = load_catalog(lang)
        assert sorted(set(zh) - set(catalog)) == [], f"{lang}.json lacks these keys"
        assert sorted(set(catalog) - set(zh)) == [], f"{lang}.json has keys zh.json lacks"


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "zh"])
def test_every_translation_has_the_same_placeholders(lang: str) -> None:
    zh, other = load_catalog("zh"), load_catalog(lang)
    wrong = {key: (_placeholders(zh[key]), _placeholders(other[key]))
             for key in zh if key in other and _placeholders(zh[key]) != _placeholders(other[key])}
    assert wrong == {}


@pytest.mark.parametrize("lang", LANGS)
def test_no_text_is_empty_and_every_template_formats(lang: str) -> None:
    for key, template in load_catalog(lang).items():
        assert template.strip(), key
        template.format(**{name: "x" for name in _placeholders(template)})


def test_english_is_english() -> None:
    """English texts carry no Chinese, except the button that switches back to Chinese."""
    en = load_catalog("en")
    cjk = {key: text for key, text in en.items() if re.search(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]", text)}
    assert cjk == {"menu.lang": "中文"}
    assert load_catalog("zh")["menu.lang"] == "English"
    assert {en[f"product.{p}"] for p in queries.PRODUCTS} == {
        "Credit information hint", "Credit information summary", "Personal credit report"}
    assert all(en[key].startswith("[Credit Reference Center]") for key in en if key.startswith("sms."))


def test_every_key_the_code_uses_exists() -> None:
    assert missing_keys(_zh_keys()) == []


def test_every_identity_rule_reason_has_a_message() -> None:
    for lang in LANGS:
        catalog = load_catalog(lang)
        assert sorted(r for r in identity_rules.REASONS if f"error.{r}" not in catalog) == [], lang


def test_the_scan_sees_the_calls_it_should() -> None:
    """Guards the scanner itself: if it stopped finding keys, the check above would pass vacuously."""
    calls = {use.key for path in _python_files() for use in _calls_with_keys(path, _parse(path))}
    for key in ("welcome", "menu.prompt", "register.done", "error.generic", "lang.switched",
                "my_account.quick_on", "level.{}", "sms.{}", "help.general", "{}.{}.prompt"):
        assert key in calls, key
    namespaces, reasons = {key.split(".", 1)[0] for key in _zh_keys()}, _flow_reasons()
    elsewhere = {use.key for path in _python_files()
                 for use in _dotted_literals(path, _parse(path), namespaces, reasons)}
    for key in ("menu.register", "menu.lang", "bank_card.not_holder", "bank_card.{}", "id_type.{}",
                "result.ready", "quick_query.open", "quick_query.prompt_close"):
        assert key in elsewhere, key
    assert {"register", "bank_card", "request", "result"} <= sms_purposes()


# Removing any one of these keys from the catalog must make the check fail; each comes in by a
# different route (literal argument, conditional, f-string table, menu table, helper argument,
# prompt convention, choice label, rule reason, code reason, Invalid literal, bot/).
@pytest.mark.parametrize("key", [
    "welcome", "cancelled", "nothing_to_cancel", "level.medium", "status.blocked", "sms.result",
    "quick_query.done_keep", "bank_card.not_holder", "bank_card.unknown_card", "menu.quick_query",
    "register.password_confirm.prompt", "fetch_result.code.prompt", "id_type.macao_id",
    "register.agreement.decline", "quick_query.close", "error.card.luhn", "error.code.exhausted",
    "register.identity_taken", "error.captcha.mismatch", "error.generic", "result.delayed", "time.format",
])
def test_the_check_fails_when_a_key_is_missing(key: str) -> None:
    keys = _zh_keys()
    assert key in keys
    problems = missing_keys(keys - {key})
    assert any(repr(key) in problem for problem in problems), problems


def test_an_unlisted_fstring_key_is_reported() -> None:
    source = "def f(ctx, x):\n    ctx.say(f'brand_new.{x}')\n    ctx.say('brand_new.literal')\n"
    tree = ast.parse(source)
    uses = list(_calls_with_keys(ROOT / "dialogs" / "example.py", tree))
    assert [(u.key, u.template) for u in uses] == [("brand_new.{}", True), ("brand_new.literal", False)]
    assert "brand_new.{}" not in DYNAMIC_KEYS
