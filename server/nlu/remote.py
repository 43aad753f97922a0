"""An external NLU that answers like Rasa's ``POST /model/parse``.

Request ``{"text": ...}``; response ``{"intent": {"name", "confidence"}, "intent_ranking":
[{"name", "confidence"}, ...]}``. Any transport error, non-2xx status or malformed body raises
``ExternalNLUError``, which the runtime turns into ``Result(ok=False)``.
"""

from __future__ import annotations

from typing import Any

import httpx

from server.nlu.intents import RANKING_SIZE, Prediction

TIMEOUT_SECONDS = 10.0  # Studio's limit for HTTP calls, kept for every outbound call


class ExternalNLUError(RuntimeError):
    pass


def prediction_from_rasa(body: Any) -> Prediction:
    intent = body.get("intent") if isinstance(body, dict) else None
    if not isinstance(intent, dict) or not intent.get("name"):
        raise ExternalNLUError("external NLU answered without an intent name")
    try:
        confidence = float(intent.get("confidence", 0.0))
        ranking = tuple(
            (str(item["name"]), float(item.get("confidence", 0.0)))
            for item in body.get("intent_ranking") or []
        )[:RANKING_SIZE]
    except (KeyError, TypeError, ValueError) as error:
        raise ExternalNLUError(f"external NLU answered a malformed ranking: {error}") from error
    name = str(intent["name"])
    return Prediction(name, confidence, ranking or ((name, confidence),))


async def parse(url: str, text: str, client: httpx.AsyncClient | None = None) -> Prediction:
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as own_client:
                response = await own_client.post(url, json={"text": text})
        else:
            response = await client.post(url, json={"text": text}, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
    except httpx.HTTPStatusError as error:
        status = error.response.status_code
        raise ExternalNLUError(f"external NLU at {url} answered HTTP {status}") from error
    except httpx.HTTPError as error:
        raise ExternalNLUError(f"external NLU at {url} failed: {error!r}") from error
    except ValueError as error:
        raise ExternalNLUError(f"external NLU at {url} answered non-JSON") from error
    return prediction_from_rasa(body)
