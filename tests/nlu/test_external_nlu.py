"""An external NLU in Rasa's ``/model/parse`` shape, faked by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.nlu import NLUError, classify

INTENTS = [
    {"name": "billing", "examples": ["my bill"]},
    {"name": "delivery", "examples": ["my parcel"]},
]

RASA_ANSWER = {
    "text": "where is my parcel",
    "intent": {"id": 1, "name": "delivery", "confidence": 0.91},
    "entities": [],
    "intent_ranking": [
        {"id": 1, "name": "delivery", "confidence": 0.91},
        {"id": 2, "name": "billing", "confidence": 0.06},
        {"id": 3, "name": "greet", "confidence": 0.02},
        {"id": 4, "name": "goodbye", "confidence": 0.01},
    ],
}


class FakeRasa(BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeRasa.received.append(body)
        if self.path == "/model/parse":
            self.answer(200, json.dumps(RASA_ANSWER).encode(), "application/json")
        elif self.path == "/broken/model/parse":
            self.answer(500, b'{"error": "boom"}', "application/json")
        elif self.path == "/html/model/parse":
            self.answer(200, b"<html>proxy error</html>", "text/html")
        else:
            self.answer(200, b'{"intent": null, "intent_ranking": []}', "application/json")

    def answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rasa() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRasa)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    FakeRasa.received.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_answer_in_rasa_shape_becomes_intent_confidence_and_top_three(rasa: str) -> None:
    payload = {"text": "where is my parcel", "intents": INTENTS, "nlu_url": f"{rasa}/model/parse"}
    answer = await classify(payload)
    assert FakeRasa.received == [{"text": "where is my parcel"}]
    assert answer == {
        "intent": "delivery",
        "confidence": 0.91,
        "ranking": [
            {"name": "delivery", "confidence": 0.91},
            {"name": "billing", "confidence": 0.06},
            {"name": "greet", "confidence": 0.02},
        ],
    }


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/broken/model/parse", "answered HTTP 500"),
        ("/html/model/parse", "answered non-JSON"),
        ("/empty/model/parse", "without an intent name"),
    ],
)
async def test_bad_answers_raise_a_clear_error(rasa: str, path: str, message: str) -> None:
    with pytest.raises(NLUError, match=message):
        await classify({"text": "hi", "intents": INTENTS, "nlu_url": f"{rasa}{path}"})


async def test_an_unreachable_nlu_raises_a_clear_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NLUError, match=f"external NLU at http://127.0.0.1:{port}/model/parse"):
        await classify(
            {"text": "hi", "intents": INTENTS, "nlu_url": f"http://127.0.0.1:{port}/model/parse"}
        )
