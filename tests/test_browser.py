"""The browser helper itself (tests/browser.py): it must see what the report tests say is absent."""

from __future__ import annotations

import pytest

from browser import BrowserError, open_page, requires_chromium

pytestmark = requires_chromium


def test_console_errors_exceptions_and_external_requests_are_seen(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><title>bad</title><link rel="stylesheet" href="https://example.com/a.css">'
                    '</head><body><h1>hi</h1><img src="http://example.org/x.png"><script>console.error("boom");'
                    'console.warn("careful"); document.body.dataset.ran = "yes"; nosuch();</script></body></html>')
    result = open_page(page, "({h1: document.querySelector('h1').textContent, ran: document.body.dataset.ran})")
    assert result.value == {"h1": "hi", "ran": "yes"}  # evaluated after the page's own script ran
    assert "console.error: boom" in result.console and "console.warning: careful" in result.console
    assert any(c.startswith("exception: ReferenceError: nosuch") for c in result.console)
    assert sorted(result.external_requests()) == ["http://example.org/x.png", "https://example.com/a.css"]
    assert result.requests[0] == page.resolve().as_uri()


def test_a_clean_page_reports_nothing_and_takes_a_screenshot(tmp_path):
    page = tmp_path / "ok.html"
    page.write_text("<!DOCTYPE html><html><head><title>ok</title></head><body><p>fine</p></body></html>")
    shot = tmp_path / "ok.png"
    result = open_page(page, "document.title", screenshot=shot)
    assert result.value == "ok" and result.console == [] and result.external_requests() == []
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_a_missing_file_and_a_failing_expression_are_errors(tmp_path):
    with pytest.raises(BrowserError, match="cannot open"):
        open_page(tmp_path / "absent.html", "1")
    page = tmp_path / "ok.html"
    page.write_text("<!DOCTYPE html><title>ok</title>")
    with pytest.raises(BrowserError, match="expression failed"):
        open_page(page, "nosuch.property")
