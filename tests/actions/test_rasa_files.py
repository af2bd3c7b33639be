"""The assistant's files: Rasa's own schemas (pykwalify), and the names that tie them to the actions.

The schemas are the read-only copy in ../shared/rasa-schemas beside the repository (CI lays shared/
there); the extension function Rasa registers for them is in rasa_schema_ext.py.
"""

from __future__ import annotations

import os

import re
from pathlib import Path
from typing import Any

import pytest
from pykwalify.core import Core
from pykwalify.errors import SchemaError
from rasa_env import RASA_DIR, REPO, load_yaml
from rasa_sdk.executor import ActionExecutor

from backend.identity_rules import REASONS
from bot.actions_server import build_executor

# CI lays shared/ beside the clone; CREDITBOT_RASA_SCHEMAS points elsewhere (e.g. a clone in /tmp).
SCHEMAS = Path(os.environ.get("CREDITBOT_RASA_SCHEMAS", REPO / ".." / "shared" / "rasa-schemas"))
EXTENSION = Path(__file__).with_name("rasa_schema_ext.py")
FILES = {"domain.yml": "domain.yml", "data/nlu.yml": "nlu.yml", "data/rules.yml": "stories.yml",
         "data/stories.yml": "stories.yml"}
# Intents, actions and slots every Rasa 3 assistant has without declaring them.
RASA_INTENTS = {"nlu_fallback", "restart", "session_start", "back", "out_of_scope"}
RASA_ACTIONS = {"action_listen", "action_restart", "action_session_start", "action_default_fallback",
                "action_deactivate_loop", "action_revert_fallback_events", "action_default_ask_affirmation",
                "action_default_ask_rephrase", "action_two_stage_fallback", "action_back",
                "action_unlikely_intent", "action_extract_slots"}
SECRET_SLOTS = ("password", "password_confirm", "card", "sms_code", "dynamic_code", "code")
# Reasons the validators and actions give besides the identity rules'.
MORE_REASONS = {"code.mismatch", "code.expired", "code.exhausted", "code.not_issued", "captcha.mismatch",
                "identity_taken", "login_taken", "password.mismatch", "agreement.declined", "choice.unknown",
                "phone.not_account", "login_name.too_many", "authenticator.mismatch", "authenticator.locked",
                "authenticator.reused"}


def schemas_dir() -> Path:
    """Required under CI (shared/ is laid beside the clone); a user's lone clone skips these checks."""
    if not (SCHEMAS / "domain.yml").exists():
        message = f"Rasa schemas not found at {SCHEMAS.resolve()} (set CREDITBOT_RASA_SCHEMAS)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return SCHEMAS


def validate(data: Any, schema_file: str) -> None:
    schemas = schemas_dir()
    schema = {**load_yaml(schemas / schema_file), **load_yaml(schemas / "responses.yml")}
    Core(source_data=data, schema_data=schema, extensions=[str(EXTENSION)]).validate(raise_exception=True)


# pykwalify loads the extension with the deprecated SourceFileLoader.load_module.
pytestmark = pytest.mark.filterwarnings("ignore:the load_module\\(\\) method is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def files() -> dict[str, Any]:
    return {name: load_yaml(RASA_DIR / name) for name in FILES}


@pytest.mark.parametrize("name", FILES)
def test_each_file_matches_rasas_schema(files: dict[str, Any], name: str) -> None:
    validate(files[name], FILES[name])


def test_the_schema_check_catches_a_response_without_text(files: dict[str, Any]) -> None:
    domain = {**files["domain.yml"], "responses": {"utter_broken": [{"buttons": []}]}}
    with pytest.raises(SchemaError):
        validate(domain, "domain.yml")


def steps(files: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for kind, name in (("rules", "data/rules.yml"), ("stories", "data/stories.yml")):
        for item in files[name][kind]:
            found += item.get("condition", []) + item["steps"]
    return found


def test_rules_and_stories_name_only_what_the_domain_has(files: dict[str, Any]) -> None:
    domain = files["domain.yml"]
    actions = set(domain["actions"]) | set(domain["responses"]) | set(domain["forms"]) | RASA_ACTIONS
    for step in steps(files):
        if "intent" in step:
            assert step["intent"] in set(domain["intents"]) | RASA_INTENTS, step
            for ent in step.get("entities", []):
                assert set(ent) <= set(domain["entities"]), step
        if "action" in step:
            assert step["action"] in actions, step
        if step.get("active_loop") is not None:
            assert step["active_loop"] in domain["forms"], step
        for slots in step.get("slot_was_set", []):
            assert set(slots) <= set(domain["slots"]) | {"requested_slot"}, step


def test_forms_and_slot_mappings_name_only_what_the_domain_has(files: dict[str, Any]) -> None:
    domain = files["domain.yml"]
    for form in domain["forms"].values():
        assert set(form["required_slots"]) <= set(domain["slots"])
    for name, slot in domain["slots"].items():
        for mapping in slot["mappings"]:
            assert mapping.get("entity", domain["entities"][0]) in domain["entities"], name
            assert mapping.get("intent", domain["intents"][0]) in domain["intents"], name
            assert set(mapping.get("not_intent", [])) <= set(domain["intents"]), name
            for condition in mapping.get("conditions", []):
                assert condition["active_loop"] in domain["forms"], name
                assert condition["requested_slot"] in domain["slots"], name


def test_secret_slots_are_never_copied_from_a_message(files: dict[str, Any]) -> None:
    slots = files["domain.yml"]["slots"]
    for name in SECRET_SLOTS:
        assert [m["type"] for m in slots[name]["mappings"]] == ["custom"], name


def test_the_domain_lists_exactly_the_actions_the_server_registers(files: dict[str, Any]) -> None:
    executor: ActionExecutor = build_executor()
    assert set(files["domain.yml"]["actions"]) == set(executor.actions)


def test_every_intent_has_15_examples_in_chinese_and_english(files: dict[str, Any]) -> None:
    examples = {i["intent"]: [e[2:] for e in i["examples"].splitlines() if e.startswith("- ")]
                for i in files["data/nlu.yml"]["nlu"] if "intent" in i}
    assert set(examples) == set(files["domain.yml"]["intents"])
    for intent, texts in examples.items():
        chinese = [t for t in texts if re.search(r"[\u4e00-\u9fff]", t)]
        assert len(texts) >= 15 and len(chinese) >= 5 and len(texts) - len(chinese) >= 5, intent


def test_every_response_has_an_english_variant_and_no_slot_placeholder(files: dict[str, Any]) -> None:
    domain = files["domain.yml"]
    for name, variants in domain["responses"].items():
        conditions = [v.get("condition") for v in variants]
        assert conditions[0] is None and {"type": "slot", "name": "language", "value": "en"} in conditions[1], name
        placeholders = {p for v in variants for p in re.findall(r"\{(\w+)\}", v["text"])}
        assert not placeholders & set(domain["slots"]), name


def test_every_response_the_actions_can_utter_is_in_the_domain(files: dict[str, Any]) -> None:
    responses = set(files["domain.yml"]["responses"])
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "actions").glob("*.py"))
    named = set(re.findall(r'"(utter_[a-z_]*[a-z])"', source))
    built = {"utter_invalid_" + r.replace(".", "_") for r in REASONS | MORE_REASONS}
    built |= {f"utter_bank_card_{outcome}" for outcome in ("unknown_card", "mismatch")}
    built |= {f"utter_ask_{slot}" for slot in ("sms_code", "dynamic_code", "code")}
    assert named | built <= responses, sorted((named | built) - responses)


def test_the_config_suits_chinese_and_the_endpoint_is_the_action_server() -> None:
    config = load_yaml(RASA_DIR / "config.yml")
    names = [c["name"] for c in config["pipeline"]]
    assert config["language"] == "zh" and names[0] == "JiebaTokenizer"
    assert {"DIETClassifier", "RegexEntityExtractor", "EntitySynonymMapper", "FallbackClassifier"} <= set(names)
    assert load_yaml(RASA_DIR / "endpoints.yml")["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


def test_the_regexes_find_ids_and_phones_but_nothing_inside_a_card_number(files: dict[str, Any]) -> None:
    patterns = {i["regex"]: re.compile(i["examples"].strip()[2:]) for i in files["data/nlu.yml"]["nlu"]
                if "regex" in i}
    found = {name: [m.group(0) for m in p.finditer("我叫王小明，身份证号11010519691231007X，手机+86 155-0000-0101，#12")]
             for name, p in patterns.items()}
    assert found == {"id_number": ["11010519691231007X"], "phone": ["+86 155-0000-0101"], "request_id": ["#12"]}
    for card in ("6217001100000000001", "6200000000000000018", "62000000000000001380"):
        assert not any(p.search(card) for name, p in patterns.items() if name != "request_id"), card
