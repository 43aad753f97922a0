"""Hand-off notice texts: per channel account, most specific first, placeholders, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.agents.notice_texts import (
    NoticeConfigError,
    NoticeTexts,
    describe_wait,
    fill,
    load_notices,
    parse_notices,
)


def test_most_specific_entry_wins_text_by_text() -> None:
    config = parse_notices(
        {
            "*": {"closed": "Bye", "satisfaction": "Rate us 1-5"},
            "sms": {"closed": "Bye from SMS", "connecting": ""},
            "sms:+14155550100": {"closed": "Bye from the shop"},
        }
    )
    shop = config.texts("sms", "+14155550100")
    assert (shop.closed, shop.connecting, shop.satisfaction) == (
        "Bye from the shop",
        "",
        "Rate us 1-5",
    )
    assert config.texts("sms", "+14155550199").closed == "Bye from SMS"
    assert config.texts("webchat", "default").closed == "Bye"
    assert config.texts("webchat", "default").assigned == NoticeTexts().assigned


def test_placeholders_are_filled_without_str_format() -> None:
    values = {"position": "2", "wait": describe_wait(150)}
    assert fill("You are number {position}, about {wait}. {0.__class__}", values) == (
        "You are number 2, about 2 minutes. {0.__class__}"
    )
    assert [describe_wait(s) for s in (None, 20, 60, 600)] == [
        "a few minutes",
        "less than a minute",
        "1 minute",
        "10 minutes",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"sms": "hi"}, "object of texts"),
        ({"sms": {"greeting": "hi"}}, "unknown notice 'greeting'"),
        ({"sms": {"closed": 3}}, "must be a string"),
    ],
)
def test_bad_configuration_names_the_field(data: object, message: str) -> None:
    with pytest.raises(NoticeConfigError, match=message):
        parse_notices(data)


def test_loaded_from_the_data_dir_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THREADLINE_NOTICES", raising=False)
    assert load_notices(tmp_path).texts("sms", "x") == NoticeTexts()
    (tmp_path / "notices.json").write_text(json.dumps({"*": {"closed": "Done"}}))
    assert load_notices(tmp_path).texts("sms", "x").closed == "Done"
    monkeypatch.setenv("THREADLINE_NOTICES", '{"*": {"closed": "Inline"}}')
    assert load_notices(tmp_path).texts("sms", "x").closed == "Inline"
    monkeypatch.setenv("THREADLINE_NOTICES", str(tmp_path / "missing.json"))
    with pytest.raises(NoticeConfigError, match="does not exist"):
        load_notices(tmp_path)
    (tmp_path / "broken.json").write_text("{")
    monkeypatch.setenv("THREADLINE_NOTICES", str(tmp_path / "broken.json"))
    with pytest.raises(NoticeConfigError, match="cannot read"):
        load_notices(tmp_path)
