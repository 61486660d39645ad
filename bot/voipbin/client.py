"""An httpx client for VoIPbin's REST API (reference §1–§2, §5–§6).

The access key travels as the ``accesskey`` query parameter (VoIPbin accepts it nowhere else),
so no URL of this client may reach a log line or an exception: errors carry the method, the
path and VoIPbin's error envelope, never the URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import ValidationError

from bot.jobs.pacing import Held, Pacer, Rate
from bot.voipbin.models import (
    Address,
    Customer,
    ErrorEnvelope,
    Message,
    MessagePage,
    Number,
    NumberPage,
    SendRequest,
)

log = logging.getLogger(__name__)

_ID = re.compile(r"/[0-9a-fA-F-]{8,}")

PAGE_SIZE = 100

# The pacing bucket of VoIPbin's per-customer rate (one account per deployment).
ACCOUNT_BUCKET = "voipbin:account"


class VoipbinError(Exception):
    """A VoIPbin call failed. ``retryable`` says whether trying again later may succeed."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        reason: str = "",
        request_id: str = "",
        detail: str = "",
    ) -> None:
        """``detail``: the ``message`` of VoIPbin's error envelope, as it wrote it."""
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.reason = reason
        self.request_id = request_id
        self.detail = detail


class VoipbinRejected(VoipbinError):
    """VoIPbin answered 4xx: the request itself is wrong or not allowed; retrying won't help."""


class VoipbinUnavailable(VoipbinError):
    """A timeout, a connection error, a 5xx or an unreadable answer. For a send, the SMS may
    or may not exist: look for it before sending again."""

    retryable = True


class VoipbinTimedOut(VoipbinUnavailable):
    """No answer in time: VoIPbin may still be working on the request (and store the SMS)."""


class VoipbinRateLimited(VoipbinUnavailable):
    """429: wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def _error_from(method: str, path: str, response: httpx.Response) -> VoipbinError:
    body_reason = ""
    body_message = ""
    request_id = response.headers.get("X-Request-Id", "")
    try:
        envelope = ErrorEnvelope.model_validate_json(response.content)
        body_reason = envelope.error.reason
        body_message = envelope.error.message
        request_id = envelope.error.request_id or request_id
    except ValidationError:
        pass
    detail = body_message or response.reason_phrase or "no details"
    text = f"VoIPbin {method} {path} answered {response.status_code}"
    text += f" {body_reason}: {detail}" if body_reason else f": {detail}"
    kwargs: dict[str, Any] = {
        "http_status": response.status_code,
        "reason": body_reason,
        "request_id": request_id,
        "detail": body_message,
    }
    if response.status_code == 429:
        return VoipbinRateLimited(text, retry_after=_retry_after(response), **kwargs)
    if response.status_code >= 500 or response.status_code == 408:
        return VoipbinUnavailable(text, **kwargs)
    return VoipbinRejected(text, **kwargs)


class VoipbinClient:
    """The calls the bridge makes. One instance per process; close it with ``aclose``."""

    def __init__(
        self,
        *,
        base_url: str,
        accesskey: str,
        timeout: float = 10.0,
        requests_per_second: float = 16.0,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Callable[[str, str], None] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """``observe(route, outcome)`` is called after every request (for metrics); outcome
        is ok, rate_limited, unavailable or rejected. ``pacer`` shares the account's pace
        (and a 429's Retry-After) with every process on the database; by default it is this
        process's alone."""
        self._observe = observe
        self._accesskey = accesskey
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            params={"accesskey": accesskey},
            timeout=timeout,
            headers={"User-Agent": "sms-bridge", "Accept": "application/json"},
            transport=transport,
            trust_env=False,
        )
        # VoIPbin allows about 16.7 requests per second per customer (reference §6.2).
        self._rate = Rate(requests_per_second, max(1, int(requests_per_second)))
        self._pacer = pacer if pacer is not None else Pacer()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        outcome = "unavailable"
        try:
            response = await self._send(method, path, json=json, params=params)
            outcome = "ok"
            return response
        except VoipbinRateLimited:
            outcome = "rate_limited"
            raise
        except VoipbinRejected:
            outcome = "rejected"
            raise
        finally:
            if self._observe is not None:
                self._observe(f"{method} {_ID.sub('/{id}', path)}", outcome)

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            await self._pacer.turn(ACCOUNT_BUCKET, self._rate, counted=False)
        except Held as exc:
            raise VoipbinRateLimited(
                f"VoIPbin {method} {path} not sent: the account is rate limited",
                retry_after=exc.retry_after,
                http_status=429,
            ) from None
        try:
            response = await self._http.request(method, path.lstrip("/"), json=json, params=params)
        except httpx.TimeoutException:
            raise VoipbinTimedOut(f"VoIPbin {method} {path} timed out") from None
        except httpx.HTTPError as exc:
            # str(exc) can hold the URL, and so the access key: name the kind only.
            raise VoipbinUnavailable(
                f"VoIPbin {method} {path} failed: {type(exc).__name__}"
            ) from None
        if response.status_code >= 400:
            error = _error_from(method, path, response)
            if isinstance(error, VoipbinRateLimited):
                await self._pacer.hold(ACCOUNT_BUCKET, error.retry_after, self._rate)
            raise error
        return response

    @staticmethod
    def _parse(model: Any, method: str, path: str, response: httpx.Response) -> Any:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise VoipbinUnavailable(
                f"VoIPbin {method} {path} answered {response.status_code} with a body that is "
                "not the expected JSON"
            ) from None

    async def send_message(self, *, source: str, destination: str, text: str) -> Message:
        """``POST /messages`` with one destination. Returns the created message (queued)."""
        body = SendRequest(
            source=Address(type="tel", target=source),
            destinations=[Address(type="tel", target=destination)],
            text=text,
        )
        response = await self._request("POST", "/messages", json=body.to_json())
        message: Message = self._parse(Message, "POST", "/messages", response)
        return message

    async def get_message(self, message_id: str) -> Message:
        path = f"/messages/{message_id}"
        response = await self._request("GET", path)
        message: Message = self._parse(Message, "GET", "/messages/{id}", response)
        return message

    async def iter_messages(self, *, since: datetime | None = None) -> AsyncIterator[Message]:
        """Messages newest first, page by page, stopping at ``since`` (reference §2.2: the
        token is the last item's ``tm_create``; stop on an empty or short page)."""
        token = ""
        while True:
            params: dict[str, Any] = {"page_size": PAGE_SIZE}
            if token:
                params["page_token"] = token
            response = await self._request("GET", "/messages", params=params)
            page: MessagePage = self._parse(MessagePage, "GET", "/messages", response)
            for message in page.result:
                created = message.tm_create
                if since is not None and created is not None and created < since:
                    return
                yield message
            if len(page.result) < PAGE_SIZE or not page.next_page_token:
                return
            token = page.next_page_token

    async def list_numbers(self) -> list[Number]:
        numbers: list[Number] = []
        token = ""
        while True:
            params: dict[str, Any] = {"page_size": PAGE_SIZE}
            if token:
                params["page_token"] = token
            response = await self._request("GET", "/numbers", params=params)
            page: NumberPage = self._parse(NumberPage, "GET", "/numbers", response)
            numbers.extend(page.result)
            if len(page.result) < PAGE_SIZE or not page.next_page_token:
                return numbers
            token = page.next_page_token

    async def get_customer(self) -> Customer:
        response = await self._request("GET", "/customer")
        customer: Customer = self._parse(Customer, "GET", "/customer", response)
        return customer

    async def set_webhook(self, uri: str) -> Customer:
        """Point the account's webhook at ``uri``. ``PUT /customer`` overwrites all seven
        fields (reference §4.1), so read them first and send them all back."""
        current = await self.get_customer()
        body = {
            "name": current.name,
            "detail": current.detail,
            "email": current.email,
            "phone_number": current.phone_number,
            "address": current.address,
            "webhook_method": "POST",
            "webhook_uri": uri,
        }
        response = await self._request("PUT", "/customer", json=body)
        customer: Customer = self._parse(Customer, "PUT", "/customer", response)
        return customer
