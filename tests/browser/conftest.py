"""Fixtures for tests that drive a real browser (Debian's chromium) against a running `creditbot serve`.

Reusable by any test module under tests/browser/:

- `server` (module): a `ServerProcess` on a free loopback port, sandbox settings (captcha answer
  fixed, results due 3 s after a request); `server.url` is its base URL.
- `browser` (module): a Playwright chromium, launched from /usr/bin/chromium; never downloaded.
  Without that binary (or without the playwright package) the tests skip, except when CI=true,
  where they fail: CI must exercise them (.ci/run installs the `chromium` package).
- `new_page(**context_options)` (function): a page in a fresh browser context (its own
  localStorage, so its own chat session; locale zh-CN unless given); e.g. `new_page(viewport=PHONE, locale="en-US")`. The
  contexts are closed after the test; a failing test leaves a screenshot of each of its pages.
- `screenshot(page, name)`: saves artifacts/screenshots/<name>.png and checks it is not empty.
- tests/browser/chat_widget.py: `Widget(page, server)` drives the chat widget on a page (say, tap,
  wait for a text), plus the constants (PHONE viewport, WAIT_MS) and `save_screenshot`.

The tests use Playwright's sync API: no event loop is shared with pytest-asyncio.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_widget import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, save_screenshot
from procs import ServerProcess


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs the chromium package)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("browser") / "var")
    loop = asyncio.new_event_loop()  # private: the browser tests are sync, other tests own their loops
    try:
        loop.run_until_complete(proc.start())
    finally:
        loop.close()
    yield proc
    proc.stop()


def _fonts_config(folder: Path) -> dict[str, str]:
    """A fontconfig that adds the product's own CJK font (the one the PDFs embed) to the system's,
    so screenshots show Chinese text on a machine without Chinese fonts, as a reviewer expects."""
    fonts = Path(__file__).resolve().parents[2] / "data" / "report_assets"
    conf = folder / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
                    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
                    f"  <dir>{fonts}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
                    encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000,
                                              env=_fonts_config(tmp_path_factory.mktemp("fonts")))
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("locale", "zh-CN")  # the product's default language, whatever the machine's
        context = browser.new_context(accept_downloads=True, **options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = getattr(request.node, "rep_call", None)
    for n, context in enumerate(contexts):
        if failed is not None and failed.failed:
            for m, page in enumerate(context.pages):
                save_screenshot(page, f"FAILED-{request.node.name}-{n}-{m}")
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    return save_screenshot
