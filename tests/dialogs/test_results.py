"""Issue 3: the delivered PDF is encrypted for the last six characters of the ID number, the message
says so without giving the password, and the PDF carries its report number and how to verify it."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from fakes import P1, Chat, documents_of, texts_of
from flowkit import P2, P4, all_texts, quick_user, submit_request
from pypdf import PasswordType, PdfReader

from backend.clock import FixedClock
from backend.credit_data import AccountTotals, CurrencyTotals
from backend.report_check import ReportCheck
from backend.reports import report_password
from bot.wiring import App
from dialogs.catalog import Translator
from dialogs.results import build_foreign_lines
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


# --- totals per currency: yuan totals first, each foreign currency on its own line ---------------

P4_CNY = "授信总额 1,545,000 元，已用 678,000 元"
P4_USD = "其中外币账户（金额未计入上述人民币金额）：美元 授信 30,000，已用 27,000"
P4_PDF_USD = "其中外币信用卡账户（金额未计入上表）：美元授信总额30,000，已用额度27,000"


async def delivered_summary(app: App, chat: Chat, clock: FixedClock, person: dict[str, str],
                            login: str) -> tuple[str, Document]:
    await quick_user(chat, person, login)
    await submit_request(chat, "summary", person)
    clock.advance(61)
    assert await app.dispatcher.run_once() == 1
    replies = await chat.say(await chat.last_code(person["phone"]))
    [pdf] = documents_of(replies)
    return texts_of(replies), pdf


async def test_p4_summary_shows_yuan_totals_and_the_dollar_card_apart(app: App, clock: FixedClock) -> None:
    chat = Chat(app, "rest:ayiguli")
    text, document = await delivered_summary(app, chat, clock, P4, "ayiguli01")
    assert "信用卡：50 个账户" in text  # the count includes the dollar card
    assert f"{P4_CNY}\n{P4_USD}\n住房贷款" in text
    assert "1,575,000" not in text and "705,000" not in text
    pdf = opened(document.data, "012464").replace(" ", "").replace("\n", "")
    assert "1,545,000" in pdf and "678,000" in pdf and P4_PDF_USD in pdf
    assert "1,575,000" not in pdf and "705,000" not in pdf


async def test_a_yuan_only_summary_has_no_foreign_currency_line(app: App, chat: Chat, clock: FixedClock) -> None:
    text, document = await delivered_summary(app, chat, clock, P1, "wangxm01")
    assert "授信总额 80,000 元，已用 3,200 元\n住房贷款" in text
    assert "外币" not in text and "外币" not in opened(document.data, "071239")


def test_foreign_lines_in_both_languages() -> None:
    totals = AccountTotals(3, 3, 0, 0, 100, 10, 0, (CurrencyTotals("EUR", 5000, 1000, 0),
                                                    CurrencyTotals("USD", 30000, 27000, 0)))
    assert build_foreign_lines(Translator("zh"), totals) == (
        "\n其中外币账户（金额未计入上述人民币金额）：欧元 授信 5,000，已用 1,000\n" + P4_USD)
    assert build_foreign_lines(Translator("en"), totals) == (
        "\nOf these, foreign-currency accounts (not in the yuan amounts above): EUR credit limit 5,000, used 1,000"
        "\nOf these, foreign-currency accounts (not in the yuan amounts above): USD credit limit 30,000, used 27,000")
    assert build_foreign_lines(Translator("en"), replace(totals, foreign=(CurrencyTotals("JPY", 9, 1, 0),))) == (
        "\nOf these, foreign-currency accounts (not in the yuan amounts above): JPY credit limit 9, used 1")  # no name in the catalog: its code
    assert build_foreign_lines(Translator("zh"), replace(totals, foreign=())) == ""
