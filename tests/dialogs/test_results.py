"""Issue 3: the delivered PDF is encrypted for the last six characters of the ID number, the message
says so without giving the password, and the PDF carries its report number and how to verify it."""

from __future__ import annotations

import io

import pytest
from fakes import P1, Chat, documents_of, texts_of
from flowkit import P2, all_texts, quick_user, submit_request
from pypdf import PasswordType, PdfReader

from backend.clock import FixedClock
from backend.report_check import ReportCheck
from backend.reports import report_password
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.types import Document

WEEK = 7 * 24 * 3600


async def delivered(app: App, chat: Chat, clock: FixedClock, person: dict[str, str] = P1,
                    login: str = "wangxm01") -> Document:
    await quick_user(chat, person, login)
    await submit_request(chat, person=person)
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    [pdf] = documents_of(await chat.say(await chat.last_code(person["phone"])))
    return pdf


def opened(pdf: bytes, password: str) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    assert reader.decrypt(password) != PasswordType.NOT_DECRYPTED
    return "".join(page.extract_text() for page in reader.pages)


def refuses(pdf: bytes, password: str) -> bool:
    reader = PdfReader(io.BytesIO(pdf))
    return reader.is_encrypted and reader.decrypt(password) == PasswordType.NOT_DECRYPTED


async def test_the_pdf_opens_with_the_last_six_characters_of_the_id_number(
        app: App, chat: Chat, clock: FixedClock) -> None:
    document = await delivered(app, chat, clock)
    number = (await app.services.queries.get(1)).report_number
    text = opened(document.data, "071239").replace(" ", "").replace("\n", "")
    assert "个人信用报告" in text
    assert number in text and "/reports/verify/" + number in text and "核验真伪" in text
    for wrong in ("", "000000", "71239", "110105199003071239", "1239"):
        assert refuses(document.data, wrong), wrong


async def test_the_message_says_how_to_open_it_without_the_password(
        app: App, chat: Chat, clock: FixedClock) -> None:
    document = await delivered(app, chat, clock)
    assert document.caption is not None and "密码为您证件号码的后六位" in document.caption
    assert (await app.services.queries.get(1)).report_number in document.caption
    said = all_texts(chat) + document.caption
    assert "071239" not in said and P1["id_number"] not in said


async def test_an_x_at_the_end_of_the_id_number_is_upper_case_in_the_password(
        app: App, clock: FixedClock) -> None:
    chat = Chat(app, "rest:lijianguo")
    document = await delivered(app, chat, clock, P2, "lijianguo1")
    assert "个人信用报告" in opened(document.data, "31007X")
    assert refuses(document.data, "31007x")


def test_report_password_rule() -> None:
    assert report_password("110105199003071239") == "071239"
    assert report_password("11010519691231007x") == "31007X"
    assert report_password(" e1234 5678 ") == "345678"  # a passport number, spaces dropped
    assert report_password("AB123") == "AB123"  # shorter than six: all of it
    with pytest.raises(ValueError):
        report_password("  ")


def test_both_languages_explain_the_password() -> None:
    assert "后六位" in Translator("zh")("result.pdf_password")
    assert "last six characters" in Translator("en")("result.pdf_password")


async def test_results_stay_seven_days_then_expire_with_a_clear_message(
        app: App, chat: Chat, clock: FixedClock) -> None:
    """Retrievable again within the week after it was ready; then expired, and the number still checks."""
    await delivered(app, chat, clock)
    number = (await app.services.queries.get(1)).report_number
    clock.advance(WEEK - 3600)
    replies = await chat.tap("/fetch_result 1")
    assert documents_of(await chat.say(await chat.last_code(P1["phone"]))) or documents_of(replies)
    clock.advance(3601)
    assert await app.services.queries.expire_old() == 1
    replies = await chat.tap("/fetch_result 1")
    assert Translator("zh")("fetch_result.expired") in texts_of(replies) and not documents_of(replies)
    status = await ReportCheck(app.services.db, clock).verify(number)
    assert status.found and status.status == "expired"
