"""A Bot API server on loopback: proxies to the emulator and fills in what it lacks.

Every method a python-telegram-bot application uses answers as the official Bot API
documents it (https://core.telegram.org/bots/api): `getMe` with `is_bot`, dates in
seconds, getUpdates with offset/timeout, files via getFile and /file/bot<token>/<path>,
errors as {"ok": false, "error_code", "description"} with the same HTTP status.
Everything the bot sends is recorded for the test to read.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.tgemu.emulator import Emulator
from tests.tgemu.files import MAX_DOWNLOAD_SIZE, FileStore
from tests.tgemu.params import Request, parse_request
from tests.tgemu.updates import POLL_STEP, UpdateQueue
from tests.tgemu.webhook import WebhookPusher


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def keyboard_rows(markup: dict | None, key: str) -> list[list[dict]]:
    """Buttons of a reply_markup as dicts (a bare string button means {"text": s})."""
    rows = (markup or {}).get(key) or []
    return [[b if isinstance(b, dict) else {"text": b} for b in row] for row in rows]


@dataclass
class SentMessage:
    """A message the bot sent, kept current through edits and deletion."""

    method: str
    params: dict[str, Any]
    message: dict[str, Any]
    edits: int = 0
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return self.message["chat"]["id"]

    @property
    def message_id(self) -> int:
        return self.message["message_id"]

    @property
    def text(self) -> str | None:
        return self.message.get("text", self.message.get("caption"))

    @property
    def reply_markup(self) -> dict | None:
        """The markup as the bot sent it; a Message only echoes inline keyboards."""
        return self.params.get("reply_markup")

    @property
    def inline_buttons(self) -> list[dict]:
        return [b for row in keyboard_rows(self.reply_markup, "inline_keyboard") for b in row]

    @property
    def keyboard_buttons(self) -> list[dict]:
        return [b for row in keyboard_rows(self.reply_markup, "keyboard") for b in row]


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class BotApiCompat:
    """Serves /bot<token>/<method> and /file/bot<token>/<path> on 127.0.0.1."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.token = emulator.token
        self.files = FileStore()
        self.calls: list[Call] = []
        self.sent: list[SentMessage] = []
        self.callback_answers: dict[str, dict] = {}
        self.commands: dict[tuple[str, str], list[dict]] = {}
        self.chats: dict[int, dict] = {}
        self.seen_updates: list[dict] = []  # every update that came in, repaired
        self.blocked: set[int] = set()
        self.updates = UpdateQueue(emulator, self._saw_update)
        self.webhook = WebhookPusher(self.updates)
        self._bot_user: dict | None = None
        self._injected: dict[str, list[ApiError]] = {}
        self.garbled: dict[str, int] = {}  # method -> how many answers to cut short
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._methods: dict[str, Callable[[Request], Any]] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe", "getUpdates", "deleteWebhook", "setWebhook", "getWebhookInfo",
                "sendMessage", "sendPhoto", "sendChatAction", "editMessageText",
                "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
                "setMyCommands", "getMyCommands", "deleteMyCommands", "getFile",
                "close", "logOut",
            )
        }

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(
            target=self._server.serve_forever, args=(POLL_STEP,), daemon=True
        ).start()

    def stop(self) -> None:
        self.updates.close()
        self.webhook.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder().base_url(...)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder().base_file_url(...)."""
        return f"{self.url}/file/bot"

    # -- test-side controls ----------------------------------------------------------

    def register_chat(self, chat: dict) -> None:
        self.chats[chat["id"]] = chat

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: further sends answer 403."""
        self.blocked.add(chat_id)

    def inject_error(
        self, method: str, code: int, description: str, parameters: dict | None = None
    ) -> None:
        """Make the next call of `method` fail, e.g. 429 with {"retry_after": 1}."""
        self._injected.setdefault(method.lower(), []).append(
            ApiError(code, description, parameters)
        )

    def inject_garbled(self, method: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with a truncated JSON body (status 200)."""
        self.garbled[method.lower()] = self.garbled.get(method.lower(), 0) + times

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def wait_sent(
        self,
        start: int,
        timeout: float,
        predicate: Callable[[SentMessage], bool] = lambda _: True,
    ) -> tuple[int, SentMessage]:
        """The first sent message at index >= start matching predicate, with its index."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for index in range(start, len(self.sent)):
                    if predicate(self.sent[index]):
                        return index, self.sent[index]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching bot message within {timeout}s")
                self._changed.wait(remaining)

    def wait_for(self, condition: Callable[[], Any], timeout: float) -> Any:
        """Wait until condition() is truthy after any bot call; returns its value."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (value := condition()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s")
                # Re-check now and then too: webhook deliveries are not bot calls.
                self._changed.wait(min(remaining, POLL_STEP))
            return value

    # -- dispatch --------------------------------------------------------------------

    def call(self, method: str, request: Request) -> Any:
        key = method.lower()
        with self._changed:
            self.calls.append(Call(method, request.params))
        try:
            if self._injected.get(key):
                raise self._injected[key].pop(0)
            if key not in self._methods:
                raise ApiError(404, "Not Found")
            return self._methods[key](request)
        finally:
            with self._changed:
                self._changed.notify_all()

    def _saw_update(self, update: dict) -> None:
        self.seen_updates.append(update)
        for value in update.values():
            if isinstance(value, dict):
                message = value.get("message", value)
                if isinstance(message, dict) and "chat" in message:
                    self.chats.setdefault(message["chat"]["id"], message["chat"])

    def _proxy(self, method: str, params: dict) -> Any:
        body = self.emulator.bot_call(method, params).json()
        if not body.get("ok", False):
            raise ApiError(body.get("error_code", 500), body.get("description", str(body)))
        return body["result"]

    def _chat(self, params: dict) -> dict:
        if "chat_id" not in params:
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(params["chat_id"])
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _find(self, params: dict, purpose: str) -> SentMessage:
        for sent in self.sent:
            if (sent.chat_id, sent.message_id) == (params.get("chat_id"), params.get("message_id")):
                if sent.deleted:
                    break
                return sent
        raise ApiError(400, f"Bad Request: message to {purpose} not found")

    # -- methods ---------------------------------------------------------------------

    def bot_user(self) -> dict:
        if self._bot_user is None:
            me = self._proxy("getMe", {})
            self._bot_user = {
                "id": me["id"],
                "is_bot": True,
                "first_name": me["first_name"],
                "username": me["username"],
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        return self._bot_user

    def _m_getMe(self, request: Request) -> dict:
        return self.bot_user()

    def _m_getUpdates(self, request: Request) -> list[dict]:
        if self.webhook.url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        return self.updates.get_updates(request.params)

    def _m_deleteWebhook(self, request: Request) -> bool:
        self._proxy("deleteWebhook", {})
        self.webhook.stop()
        if request.params.get("drop_pending_updates"):
            self.updates.drop_all()
        return True

    def _m_setWebhook(self, request: Request) -> bool:
        params = request.params
        if not params.get("url"):
            return self._m_deleteWebhook(request)
        if params.get("drop_pending_updates"):
            self.updates.drop_all()
        self.webhook.start(params["url"], params.get("secret_token"))
        return True

    def _m_getWebhookInfo(self, request: Request) -> dict:
        return self.webhook.info()

    def _new_message(self, method: str, params: dict, content: dict) -> dict:
        chat = self._chat(params)
        # The emulator numbers messages; it stores the bot message for its own history.
        stored = self._proxy("sendMessage", {**params, "text": content.get("text", "")})
        message = {
            "message_id": stored["message_id"],
            "from": self.bot_user(),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        with self._changed:
            self.sent.append(SentMessage(method, params, message))
        return message

    def _m_sendMessage(self, request: Request) -> dict:
        params = request.params
        text = params.get("text", "")
        if not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": text}
        if params.get("entities"):
            content["entities"] = params["entities"]
        return self._new_message("sendMessage", params, content)

    def _m_sendPhoto(self, request: Request) -> dict:
        params = dict(request.params)
        self._chat(params)
        upload = request.uploads.get("photo")
        if upload is not None:
            photo = self.files.photo_sizes(upload.data)
            params["photo"] = f"attach://{upload.filename}"
        else:
            known = self.files.get(str(params.get("photo", "")))
            if known is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            photo = self.files.photo_sizes(known.data)
        content: dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            content["caption"] = params["caption"]
        if params.get("caption_entities"):
            content["caption_entities"] = params["caption_entities"]
        return self._new_message("sendPhoto", params, content)

    def _m_sendChatAction(self, request: Request) -> bool:
        self._chat(request.params)
        return True

    def _edit(self, method: str, request: Request, text: str | None) -> dict:
        params = request.params
        sent = self._find(params, "edit")
        markup = params.get("reply_markup")
        new = dict(sent.message)
        new.pop("reply_markup", None)
        if text is not None:
            new["text"] = text
            new.pop("entities", None)
            if params.get("entities"):
                new["entities"] = params["entities"]
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        if {**new, "edit_date": 0} == {**sent.message, "edit_date": 0}:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        self._proxy(method, params)
        new["edit_date"] = int(time.time())
        with self._changed:
            sent.message = new
            sent.params = {**sent.params, "reply_markup": markup}
            sent.edits += 1
        return new

    def _m_editMessageText(self, request: Request) -> dict:
        text = request.params.get("text", "")
        if not str(text).strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return self._edit("editMessageText", request, text)

    def _m_editMessageReplyMarkup(self, request: Request) -> dict:
        return self._edit("editMessageReplyMarkup", request, None)

    def _m_deleteMessage(self, request: Request) -> bool:
        params = request.params
        sent = self._find(params, "delete")
        self._proxy("deleteMessage", params)
        sent.deleted = True
        return True

    def _m_answerCallbackQuery(self, request: Request) -> bool:
        params = request.params
        if "callback_query_id" not in params:
            raise ApiError(400, "Bad Request: query_id is empty")
        self._proxy("answerCallbackQuery", params)
        with self._changed:
            self.callback_answers[params["callback_query_id"]] = params
        return True

    @staticmethod
    def _commands_key(params: dict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")

    def _m_setMyCommands(self, request: Request) -> bool:
        self.commands[self._commands_key(request.params)] = list(request.params["commands"])
        return True

    def _m_getMyCommands(self, request: Request) -> list[dict]:
        return self.commands.get(self._commands_key(request.params), [])

    def _m_deleteMyCommands(self, request: Request) -> bool:
        self.commands.pop(self._commands_key(request.params), None)
        return True

    def _m_getFile(self, request: Request) -> dict:
        stored = self.files.get(str(request.params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_SIZE:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.as_file()

    def _m_close(self, request: Request) -> bool:
        return True

    def _m_logOut(self, request: Request) -> bool:
        return True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A bot that hangs up mid long poll (shutting down) is normal, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(api: BotApiCompat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            segments = unquote(parts.path).strip("/").split("/")
            if segments[0] == "file" and len(segments) > 2:
                self._serve_file(segments[1], "/".join(segments[2:]))
                return
            if len(segments) != 2 or not segments[0].startswith("bot"):
                self._answer_error(ApiError(404, "Not Found"))
                return
            if segments[0][3:] != api.token:
                self._answer_error(ApiError(401, "Unauthorized"))
                return
            if api.garbled.get(segments[1].lower()):
                api.garbled[segments[1].lower()] -= 1
                with api._changed:
                    api.calls.append(Call(segments[1], {}))
                    api._changed.notify_all()
                self._answer_raw(200, b'{"ok":true,"result":[{"update_id":')
                return
            try:
                request = parse_request(self.headers.get("Content-Type", ""), body, parts.query)
                result = api.call(segments[1], request)
            except ApiError as error:
                self._answer_error(error)
                return
            except (ValueError, KeyError, TypeError) as error:
                self._answer_error(ApiError(400, f"Bad Request: {error}"))
                return
            self._answer(200, {"ok": True, "result": result})

        def _serve_file(self, bot_token: str, path: str) -> None:
            stored = api.files.by_path(path)
            if bot_token != f"bot{api.token}" or stored is None:
                self._answer_error(ApiError(404, "Not Found"))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(stored.data)))
            self.end_headers()
            self.wfile.write(stored.data)

        def _answer_error(self, error: ApiError) -> None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": error.code,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            self._answer(error.code, body)

        def _answer(self, status: int, body: dict) -> None:
            self._answer_raw(status, json.dumps(body, ensure_ascii=False).encode())

        def _answer_raw(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
