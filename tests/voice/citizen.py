"""A citizen on one channel, through the real webhooks, the rq worker and the loopback providers.

``says`` posts what the provider would post for a text; ``presses`` what it posts when the
citizen taps a button (a Telegram callback query, a WhatsApp list reply), signed as the
provider signs it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sqlalchemy import select

from adapters import adapter_class
from adapters.common import address_value
from gateway.store.models import Message


class Citizen:
    def __init__(self, client: Any, runtime: Any, drain: Any, channel: str, sender: str) -> None:
        self.client, self.runtime, self.drain = client, runtime, drain
        self.channel = channel
        self.adapter = adapter_class(channel).from_env(runtime.settings.env)
        self.sender = sender
        self.seen: set[int] = set()
        self.contact_id: int | None = None

    def _post(self, path: str, headers: dict[str, str], body: bytes) -> None:
        res = self.client.open(path, method="POST", headers=headers, data=body)
        assert res.status_code == 200, res.get_data(as_text=True)
        if self.contact_id is None:
            with self.runtime.db.session() as session:
                self.contact_id = session.scalar(
                    select(Message.contact_id)
                    .where(Message.direction == "in")
                    .order_by(Message.id.desc())
                    .limit(1)
                )

    def reads(self) -> list[Message]:
        """Run the worker; the messages sent to this citizen since the last look, in order."""
        self.drain()
        with self.runtime.db.session() as session:
            rows = session.scalars(
                select(Message)
                .where(Message.direction == "out", Message.contact_id == self.contact_id)
                .order_by(Message.id)
            ).all()
            session.expunge_all()
        new = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in rows)
        return new

    def says(self, text: str) -> list[Message]:
        req = self.adapter.simulate(self.sender, text)
        self._post(req.path, dict(req.headers), req.body)
        return self.reads()

    def text_of(self, text: str) -> str:
        return "\n".join(m.text for m in self.says(text))

    def presses(self, payload: str, title: str = "") -> list[Message]:
        """Tap the button ``payload``, exactly as the provider reports it."""
        if self.channel == "telegram":
            chat = int(address_value(self.sender))
            user = {"id": chat, "is_bot": False, "first_name": "Warga", "language_code": "id"}
            serial = int(time.time() * 1000) % 2_000_000_000
            body = {
                "update_id": serial,
                "callback_query": {
                    "id": f"cb{serial}",
                    "from": user,
                    "chat_instance": "-842978671234",
                    "data": payload,
                    "message": {
                        "message_id": 520,
                        "from": {"id": 7000000001, "is_bot": True, "first_name": "LAPOR!"},
                        "chat": {"id": chat, "first_name": "Warga", "type": "private"},
                        "date": int(time.time()),
                        "text": "rating",
                    },
                },
            }
            raw = json.dumps(body).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Telegram-Bot-Api-Secret-Token": self.adapter.webhook_secret,
            }
            self._post("/webhooks/telegram", headers, raw)
            return self.reads()
        assert self.channel == "whatsapp", self.channel
        number = re.sub(r"\D", "", self.sender)
        message = {
            "from": number,
            "id": f"wamid.R{int(time.time() * 1000)}",
            "timestamp": str(int(time.time())),
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": payload, "title": title or payload}},
        }
        body = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "0",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "6281100001708",
                                    "phone_number_id": self.adapter.phone_number_id,
                                },
                                "contacts": [{"profile": {"name": "Warga"}, "wa_id": number}],
                                "messages": [message],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": self.adapter.signature(raw)}
        self._post("/webhooks/whatsapp", headers, raw)
        return self.reads()

    def files(self, complaint: str, place: str) -> str:
        """File a complaint through the dialogue, answering what is asked; its tracking number."""
        text = "\n".join(m.text for m in self.says(complaint))
        for _ in range(6):
            match = re.search(r"#(\d{8})", text)
            if match:
                return match.group(1)
            lower = text.lower()
            if "ringkasan" in lower or "your complaint:" in lower:
                answer = "YA"
            elif "di mana" in lower or "where" in lower:
                answer = place
            elif "kategori" in lower or "category" in lower:
                answer = "lainnya"
            elif "identitas" in lower or "identity" in lower:
                answer = "BIASA"
            else:
                answer = "YA"
            text = "\n".join(m.text for m in self.says(answer))
        raise AssertionError(text)
