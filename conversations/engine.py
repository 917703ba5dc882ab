"""The conversation machine: ``step(state, event, ctx) -> Step``.

No clock, database, file or environment variable of its own: the configuration
snapshot comes in the context (`conversations.context`). The gateway loads the
contact's state, calls ``step`` with one message or timeout and the context it knows
(time, channel limits, the contact's tickets, a reserved tracking number, the config
snapshot), then stores the new state and carries out the effects in one transaction.
Nothing here sends, stores or waits; timers are ``ScheduleTimeout`` effects that come
back later as ``TimeoutFired`` inputs.

The dialogue (see docs/conversation.md): any message starts a complaint; we ask
only for what is missing (what happened, where, category, privacy), accept answers
in any order, show a summary to confirm, file the ticket and append later messages
to it. Keywords (BATAL, BANTUAN, STOP, MULAI, BAHASA, STATUS, LAPOR, BARU) work in
every stage. Every text a citizen sends ends up in the draft, a ticket, an
appended follow-up, or is a command that gets an answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.base import Button, InboundMessage
from adapters.web import WebForm, form_of, is_page_address
from conversations import emergency as emergencies
from conversations import satisfaction, texts
from conversations.categorize import (
    category_from_answer,
    category_named,
    extract_location,
    infer_category,
    without_location,
)
from conversations.context import Context, TicketInfo
from conversations.effects import (
    AppendToTicket,
    CommentRating,
    CreateTicket,
    DraftExpired,
    Effect,
    FlagEmergency,
    FollowTicket,
    JoinTicket,
    RateTicket,
    Reply,
    ScheduleTimeout,
    SetLanguage,
    SetOptOut,
)
from conversations.events import MessageReceived, TimeoutFired
from conversations.keywords import Command, split_first_word
from conversations.state import (
    AWAITING_CATEGORY,
    AWAITING_LOCATION,
    AWAITING_PRIVACY,
    COLLECTING,
    CONFIRMING,
    DEFAULT_PRIVACY,
    DRAFT_STAGES,
    EDITING,
    FILED,
    IDLE,
    PRIVACY_CHOICES,
    ConversationState,
    Draft,
)
from conversations.tracking import looks_like_tracking, parse_tracking

EDIT_FIELDS = ("description", "location", "category", "privacy")
MORE = "menu:more"
REMINDER = "reminder"
EXPIRE = "expire"
#: Telegram's deep link: ``t.me/<bot>?start=<parameter>`` makes the app send ``/start <parameter>``
#: (up to 64 of A-Za-z0-9_-). Our only such links are "follow on Telegram" links.
_DEEP_LINK = re.compile(r"^/start(?:@[A-Za-z0-9_]+)?\s+([A-Za-z0-9_-]{1,64})$")


@dataclass
class Step:
    """The result of one step: the state to store and the effects to carry out, in order."""

    new_state: ConversationState
    effects: list[Effect] = field(default_factory=list)

    @property
    def replies(self) -> list[Reply]:
        return [e for e in self.effects if isinstance(e, Reply)]


@dataclass(frozen=True)
class _Option:
    payload: str
    title: str
    short: str
    description: str | None = None


def deep_link_code(text: str) -> str | None:
    """The start parameter of a deep link's ``/start <parameter>``, or None for any other text
    (a bare ``/start`` is the greeting keyword)."""
    found = _DEEP_LINK.match(text.strip())
    return found.group(1) if found else None


def step(state: ConversationState, event: MessageReceived | TimeoutFired, ctx: Context) -> Step:
    """Advance the conversation by one input; ``state`` itself is not modified."""
    if isinstance(event, TimeoutFired):
        return _Turn(state, ctx).on_timeout(event)
    return _Turn(state, ctx).on_message(event.message)


class _Turn:
    """One step's working copy of the state, plus the effects decided so far."""

    def __init__(self, state: ConversationState, ctx: Context) -> None:
        self.original = state
        self.state = state.copy()
        self.ctx = ctx
        self.effects: list[Effect] = []
        self.notes: list[str] = []  # acknowledgements that precede the next question
        self.emergency: emergencies.Emergency | None = None  # what this message reported, if anything
        self.emergency_reply: int | None = None  # index in effects of the numbers' reply, kept short
        self.config = ctx.config
        self.keywords = ctx.config.keywords
        self.settings: Mapping[str, Any] = ctx.config.conversation
        self.sender: str | None = None  # the sender of the message this step reads

    # ----------------------------------------------------------------- helpers

    @property
    def lang(self) -> str:
        return self.state.language if self.state.language in texts.LANGUAGES else texts.DEFAULT_LANGUAGE

    @property
    def max_len(self) -> int:
        return max(40, int(self.ctx.max_text_length))

    def t(self, key: str, **params: Any) -> str:
        """The text for ``key``; its ``<key>_short`` variant when the full one does not fit the channel."""
        value = texts.text(self.config, key, self.lang, **params)
        if len(value) > self.max_len and texts.has(self.config, f"{key}_short", self.lang):
            return texts.text(self.config, f"{key}_short", self.lang, **params)
        return value

    def setting(self, name: str) -> int:
        override = getattr(self.ctx, name, None)
        return int(override if override is not None else self.settings.get(name, 0))

    @property
    def min_description(self) -> int:
        return self.setting("min_description_length")

    def reply(self, text: str, buttons: tuple[Button, ...] = (), menu_title: str | None = None) -> None:
        self.effects.append(Reply(texts.truncate(text, self.max_len), buttons, menu_title))

    def emit(self, reply: Reply) -> None:
        """Queue a prepared reply; every reply passes the channel's length limit here or in ``reply``."""
        self.reply(reply.text, reply.buttons, reply.menu_title)

    def say_with_prompt(self, lead: str, fallback: str | None = None) -> None:
        """``lead`` then the current question, in one message when it fits.

        When both do not fit, the lead goes alone followed by ``fallback`` (a short
        pointer back to the question) or, without one, by the question itself.
        """
        prompt = self.prompt()
        if prompt is None:
            self.reply(lead)
            return
        combined = texts.join([lead, prompt.text])
        if len(combined) <= self.max_len:
            self.reply(combined, prompt.buttons, prompt.menu_title)
        elif fallback and len(texts.join([lead, fallback])) <= self.max_len:
            self.reply(texts.join([lead, fallback]))
        else:
            self.reply(lead)
            self.emit(prompt)

    def finish(self) -> Step:
        """Schedule the idle reminder when a draft is open, and return the step."""
        state = self.state
        self.add_privacy_notice()
        if state.draft is not None and not state.opted_out:
            state.reminded = False
            self.effects.append(
                ScheduleTimeout(REMINDER, self.setting("idle_reminder_seconds"), state.version)
            )
        return Step(state, self.effects)

    def add_privacy_notice(self) -> None:
        """Tell a citizen, once per channel, what is kept, how long, and how to ask for it (UU 27/2022).

        It rides on the turn's first reply when both fit one message of the channel
        (the short wording if needed), so an SMS citizen pays no extra message; only
        when even the short wording does not fit does it follow as one short reply.
        The emergency numbers' reply never carries it; a turn with no other reply leaves
        the notice for the next turn.
        """
        state, months = self.state, self.ctx.retention_months
        # Never on the emergency numbers: they must stay one short SMS, read at a glance.
        firsts = [
            i
            for i, effect in enumerate(self.effects)
            if isinstance(effect, Reply) and i != self.emergency_reply
        ]
        if months is None or state.opted_out or self.ctx.channel in state.privacy_noticed or not firsts:
            return
        state.privacy_noticed = [*state.privacy_noticed, self.ctx.channel]
        key = "privacy_notice.text" if months > 0 else "privacy_notice.kept"
        first = self.effects[firsts[0]]
        assert isinstance(first, Reply)
        for variant in (key, f"{key}_short"):
            notice = texts.text(self.config, variant, self.lang, months=months, city=self.config.city)
            combined = texts.join([first.text, notice], "\n\n")
            if len(combined) <= self.max_len:
                self.effects[firsts[0]] = Reply(combined, first.buttons, first.menu_title)
                return
        notice = texts.truncate(self.t(key, months=months, city=self.config.city), self.max_len)
        self.effects.insert(firsts[0] + 1, Reply(notice))

    def close_draft(self) -> None:
        self.state.draft = None
        self.state.emergency = None
        self.state.retries = 0
        self.state.menu = []
        self.state.menu_page = 0
        self.state.stage = FILED if self.state.open_ticket else IDLE

    # ----------------------------------------------------------------- timeouts

    def on_timeout(self, event: TimeoutFired) -> Step:
        state = self.state
        if event.version != state.version or state.opted_out or state.draft is None:
            # Stale (the conversation moved on) or nothing to remind about: no change at all,
            # so that the timer that is still current keeps its version.
            return Step(self.original, [])
        state.version += 1
        if event.kind == REMINDER and not state.reminded:
            state.reminded = True
            self.say_with_prompt(self.t("timeout.reminder"))
            delay = max(0, self.setting("idle_expiry_seconds") - self.setting("idle_reminder_seconds"))
            self.effects.append(ScheduleTimeout(EXPIRE, delay, state.version))
            return Step(state, self.effects)
        self.effects.append(self.expired_draft())
        self.close_draft()
        if self.settings.get("notify_on_expiry", True):
            self.reply(self.t("timeout.expired"))
        return Step(state, self.effects)

    # ----------------------------------------------------------------- messages

    def on_message(self, message: InboundMessage) -> Step:
        state = self.state
        self.sender = message.sender
        text = _message_text(message)
        payload = (message.button_payload or "").strip() or None
        has_content = bool(text or payload or message.attachments or message.location)

        command: Command | None = None
        if text and payload is None:
            command = self.keywords.parse(text, self.region_keyword())
            self.emergency = emergencies.detect(self.config, text)

        form = form_of(message)
        if form is not None:
            return self.on_web_form(text, message, form)
        code = deep_link_code(text) if payload is None else None
        if code is not None:
            return self.on_follow_link(code, message)

        if state.opted_out:
            if command is not None and command.name == "optin":
                return self.opt_in(message)
            if self.emergency is not None:
                # STOP ends our messages, not a citizen's way to help in an emergency.
                self.answer_emergency(self.emergency)
                return Step(state, self.effects)
            return Step(self.original, [])  # silence while opted out
        if not has_content and message.kind in ("reaction", "sticker"):
            return Step(self.original, [])  # nothing to keep, nothing to answer

        state.version += 1
        state.last_activity = self.ctx.now.isoformat()
        self.follow_language_hint(message)
        if self.emergency is not None:
            self.answer_emergency(self.emergency)  # the first reply, before any question
            if state.draft is not None:
                self.mark_emergency(state.draft)

        if not has_content:
            if state.draft is not None:
                self.say_with_prompt(self.t("ack.unreadable"))
            else:
                self.reply(self.t("ack.unreadable"))
            return self.finish()

        if command is not None and self.on_command(command, message):
            return self.finish()

        if state.draft is None and self.on_feedback(text, payload, message):
            return self.finish()

        if state.stage in (IDLE, FILED) and text and payload is None and looks_like_tracking(text):
            self.answer_status(text)
            return self.finish()

        if state.stage == FILED:
            self.on_filed(text, message, payload)
        elif state.draft is None or state.stage not in DRAFT_STAGES:
            if payload is not None and not text and not message.attachments and not message.location:
                self.reply(texts.join([self.t("ack.stale_button"), self.t("help.idle")]))
            else:
                self.start_draft(text, message)
        else:
            self.on_draft_input(text, message, payload)
        return self.finish()

    def on_follow_link(self, code: str, message: InboundMessage) -> Step:
        """``/start <code>``: the citizen opened a "follow on Telegram" link. Opening it is an
        explicit start, so it also ends an earlier STOP (updates are never sent to an opted-out
        contact). The gateway checks the code and answers; an unfinished draft is kept and its
        question asked again after that answer."""
        state = self.state
        state.version += 1
        state.last_activity = self.ctx.now.isoformat()
        if state.opted_out:
            state.opted_out = False
            self.effects.append(SetOptOut(False))
        self.follow_language_hint(message)
        self.effects.append(FollowTicket(code))
        if state.draft is not None:
            self.say_with_prompt(self.t("draft_pending"))
        return self.finish()

    def on_web_form(self, text: str, message: InboundMessage, form: WebForm) -> Step:
        """A web form submission (``/lapor``): every field came at once, so it is filed in this
        one step, with no question and no summary (the citizen reviewed the form and pressed
        send; the page is the confirmation). Its words are a complaint, never keywords.

        The contact's own dialogue is left as it was: a citizen half-way through a complaint
        by SMS who also uses the form keeps that draft and its next question. A form without
        a description (never sent by our form) starts an ordinary draft instead. An opted-out
        contact's complaint is filed all the same, but nothing is said to them.
        """
        state = self.state
        state.version += 1
        state.last_activity = self.ctx.now.isoformat()
        self.follow_language_hint(message)
        if self.emergency is not None:
            self.answer_emergency(self.emergency)  # even when opted out, as for any message
        if not text.strip():
            self.start_draft(text, message)
            return self.finish()
        kept = (state.draft, state.stage, state.menu, state.menu_page, state.retries, state.emergency)
        draft = Draft(started_at=self.ctx.now.isoformat(), one_shot=True)
        state.draft, state.emergency = draft, None
        if message.provider_message_id:
            draft.message_ids.append(message.provider_message_id)
        draft.attachments.extend(message.attachments)
        draft.location = message.location
        draft.location_text = form.place.strip()
        if form.privacy in PRIVACY_CHOICES:
            # The citizen picked it on the form they reviewed and sent: their own choice.
            draft.privacy, draft.privacy_chosen = form.privacy, True
        self.mark_emergency(draft)  # RAHASIA for self-harm and violence unless the citizen chose
        self.add_description(draft, text)
        if form.category and (self.config.category(form.category) or form.category == self.other_category()):
            draft.category = form.category
        else:
            guess = infer_category(
                self.config, without_location(draft.full_description(), draft.location_text)
            )
            draft.category = guess or self.other_category()  # the coordinator sorts "lainnya" out
            draft.category_inferred = guess is not None
        self.file_ticket()
        if kept[0] is not None:
            state.draft, state.stage, state.menu, state.menu_page, state.retries, state.emergency = kept
        if state.opted_out:
            self.effects = [
                e for i, e in enumerate(self.effects) if not isinstance(e, Reply) or i == self.emergency_reply
            ]  # nothing precedes the numbers' reply but effects that are kept: its index holds
        return self.finish()

    def answer_emergency(self, found: emergencies.Emergency) -> None:
        """The emergency numbers, as a reply of their own ahead of anything else this turn.

        The same text goes to a contact at most once per ``repeat_after_seconds``, so a
        citizen who sends three panicked messages reads the numbers once, then the questions.
        """
        key = f"emergency.{found.reply}"
        if not texts.has(self.config, key, self.lang):
            key = "emergency.general"
        sent = _parse_time(self.state.emergency_replies.get(key))
        repeat = timedelta(seconds=emergencies.repeat_after_seconds(self.config))
        if sent is not None and self.ctx.now - sent < repeat:
            return
        self.state.emergency_replies[key] = self.ctx.now.isoformat()
        self.emergency_reply = len(self.effects)
        self.reply(self.t(key, **emergencies.numbers(self.config)))

    def mark_emergency(self, draft: Draft) -> None:
        """Remember this turn's emergency for the draft's ticket, before the draft's next question.

        Self-harm and violence are filed RAHASIA unless the citizen chose already: a suicide
        note or a victim's address never goes on the public page (the summary shows it, UBAH
        changes it).
        """
        if self.emergency is None:
            return
        self.state.emergency = self.emergency.kind  # flagged on the ticket when it is filed
        if self.emergency.private and draft.privacy is None:
            draft.privacy = "confidential"

    def expired_draft(self) -> DraftExpired:
        """The unfinished draft kept for operators, with the emergency it reported, if any."""
        assert self.state.draft is not None
        data = self.state.draft.to_dict()
        if self.state.emergency:
            data["emergency"] = self.state.emergency
        return DraftExpired(data)

    def region_keyword(self) -> str | None:
        return self.ctx.region_keyword or self.config.region_keyword

    def follow_language_hint(self, message: InboundMessage) -> None:
        """Follow the channel's language hint until the citizen chooses with BAHASA."""
        hint = (message.language or "").strip().lower()
        if self.state.language_explicit or not hint:
            return
        language = "en" if hint.startswith("en") else "id"
        if language != self.state.language:
            self.state.language = language
            self.effects.append(SetLanguage(language))

    # ----------------------------------------------------------------- commands

    def on_command(self, command: Command, message: InboundMessage) -> bool:
        """Handle a keyword that works in every stage; False lets the stage read the text."""
        state = self.state
        name = command.name
        if name == "stop":
            if state.draft is not None and not state.draft.is_empty():
                self.effects.append(self.expired_draft())
            self.close_draft()
            state.opted_out = True
            self.effects.append(SetOptOut(True))
            self.reply(self.t("opt.out"))
            return True
        if name == "cancel":
            if state.draft is not None:
                self.close_draft()
                self.reply(self.t("cancelled"))
            else:
                self.reply(self.t("nothing_to_cancel"))
            return True
        if name == "help":
            self.answer_help()
            return True
        if name == "language":
            language = self.keywords.language_code(command.rest)
            if language:
                state.language = language
                state.language_explicit = True
                self.effects.append(SetLanguage(language))
                self.say_with_prompt(self.t("language.set"))
            return True
        if name == "status":
            self.answer_status(command.rest)
            return True
        if name == "join":
            argument = command.rest.strip().strip(".,!?;:")
            number = parse_tracking(argument)
            if number is None:
                if not looks_like_tracking(argument):
                    return False  # not a tracking number after all: ordinary text
                self.answer_status(argument)  # a mistyped number: "check the number" (status.invalid)
                return True
            self.effects.append(JoinTicket(number))  # the gateway answers: only it knows the ticket
            if self.state.draft is not None:
                self.say_with_prompt(self.t("draft_pending"))  # after the gateway's answer
            return True
        if name in ("greeting", "optin"):
            if state.draft is not None:
                self.say_with_prompt(self.t("draft_pending"))
            elif state.stage == FILED and state.open_ticket:
                self.reply(self.t("greeting_filed", tracking=state.open_ticket))
            else:
                self.start_draft("", message, greeted=True)
            return True
        if name in ("report", "new", "region"):
            rest = command.rest
            inner = self.keywords.parse(rest, self.region_keyword()) if rest else None
            if inner is not None and inner.name in ("report", "region"):
                rest = inner.rest  # "KTC LAPOR ..." or "LAPOR KTC ..."
            if state.draft is not None and state.stage in DRAFT_STAGES and rest.startswith("#"):
                # A complete one-shot form replaces the unfinished draft, which operators still get.
                if not state.draft.is_empty():
                    self.effects.append(self.expired_draft())
                self.close_draft()
            if state.draft is not None and state.stage in DRAFT_STAGES:
                if rest.strip() or message.attachments or message.location:
                    self.on_draft_input(rest.lstrip("#").strip(), message, None)
                else:
                    self.say_with_prompt(self.t("draft_pending"))
                return True
            if rest.startswith("#"):
                self.start_one_shot(rest[1:], message)
            else:
                self.start_draft(rest, message, greeted=not rest.strip())
            return True
        return False  # yes / no / edit / skip: answers, read by the stage

    def opt_in(self, message: InboundMessage) -> Step:
        state = self.state
        state.version += 1
        state.last_activity = self.ctx.now.isoformat()
        state.opted_out = False
        self.effects.append(SetOptOut(False))
        self.follow_language_hint(message)
        self.reply(self.t("opt.in"))
        return self.finish()

    def answer_help(self) -> None:
        state = self.state
        if state.draft is not None:
            self.say_with_prompt(self.t("help.text"))
        elif state.stage == FILED and state.open_ticket:
            self.reply(texts.join([self.t("help.text"), self.t("help.filed", tracking=state.open_ticket)]))
        else:
            self.reply(texts.join([self.t("help.text"), self.t("help.idle")]))

    def answer_status(self, argument: str) -> None:
        text = self.status_text(argument)
        if self.state.draft is not None:
            self.say_with_prompt(text, fallback=self.t("draft_pending"))
        else:
            self.reply(text)

    def status_text(self, argument: str) -> str:
        argument = argument.strip().strip(".,!?;:")
        if not argument:
            return self.status_list()
        number = parse_tracking(argument)
        if number is None:
            return self.t("status.invalid", number=texts.truncate(argument, 20))
        ticket = self.ctx.ticket(number)
        if ticket is None:
            return self.t("status.not_own", tracking=number)
        return self.status_detail(ticket)

    def status_label(self, status: str) -> str:
        label = texts.raw(self.config, f"status.labels.{status}", self.lang)
        return str(label) if label else status

    def status_detail(self, ticket: TicketInfo) -> str:
        agency = self.t("status.agency", agency=ticket.agency_name) if ticket.agency_name else ""
        update = ""
        if ticket.last_update:
            if ticket.updated_at is not None:
                update = self.t("status.update", date=ticket.updated_at.strftime("%d-%m-%Y"), text="{text}")
            else:
                update = self.t("status.update_nodate", text="{text}")
        head = self.t(
            "status.own", tracking=ticket.tracking, label=self.status_label(ticket.status), agency=agency
        )
        fixed = head.replace("{update}", "")
        if not update:
            return texts.truncate(fixed, self.max_len)
        room = self.max_len - len(fixed) - len(update.replace("{text}", ""))
        note = texts.truncate(ticket.last_update or "", max(10, room))
        return texts.truncate(head.replace("{update}", update.replace("{text}", note)), self.max_len)

    def status_list(self) -> str:
        if not self.ctx.tickets:
            return self.t("status.none")
        ordered = sorted(
            self.ctx.tickets,
            key=lambda t: t.updated_at.timestamp() if t.updated_at else 0.0,
            reverse=True,
        )
        lines = [self.t("status.list_header")]
        hint = self.t("status.list_hint")
        for ticket in ordered:
            line = self.t(
                "status.list_item", tracking=ticket.tracking, label=self.status_label(ticket.status)
            )
            if len(texts.join([*lines, line, hint])) > self.max_len:
                break
            lines.append(line)
        return texts.join([*lines, hint])

    # ----------------------------------------------------------------- satisfaction

    def on_feedback(self, text: str, payload: str | None, message: InboundMessage) -> bool:
        """A rating (a button, or a lone digit 1-5 while a question is open) or its comment.

        Only outside a draft: a digit answering a draft's numbered menu is that menu's
        choice. A lone digit with a question open is a rating, never a follow-up that
        would reopen the ticket; the next message after a rating is its comment.
        """
        pressed = satisfaction.parse_payload(payload)
        if pressed is not None:
            tracking, score = pressed
            info = self.ctx.ticket(tracking)
            if info is None or not info.rating_open:
                self.reply(self.t("rating.closed", tracking=tracking))
                return True
            self.rate(tracking, score)
            return True
        digit = satisfaction.rating_digit(text) if payload is None else None
        if digit is not None:
            asked = self.ctx.open_rating()
            if asked is not None:
                self.rate(asked.tracking, digit)
                return True
        pending = dict(self.state.rating_comment)
        if pending:
            self.state.rating_comment = {}
            until = _parse_time(pending.get("until"))
            if text and payload is None and until is not None and self.ctx.now <= until:
                tracking = pending.get("tracking", "")
                self.effects.append(CommentRating(tracking, text))
                self.reply(self.t("rating.comment_thanks", tracking=tracking))
                return True
        return False

    def rate(self, tracking: str, score: int) -> None:
        self.effects.append(RateTicket(tracking, score))
        hours = int(self.settings.get("rating_comment_hours", 24))
        if hours > 0:
            until = self.ctx.now + timedelta(hours=hours)
            self.state.rating_comment = {"tracking": tracking, "until": until.isoformat()}
        key = "rating.thanks_low" if satisfaction.is_low(score) else "rating.thanks"
        self.reply(self.t(key, tracking=tracking, score=score))

    # ----------------------------------------------------------------- filed

    def on_filed(self, text: str, message: InboundMessage, payload: str | None) -> None:
        state = self.state
        tracking = state.open_ticket
        if tracking and self.can_append(tracking):
            if not text and not message.attachments and not message.location:
                self.reply(texts.join([self.t("ack.stale_button"), self.t("help.filed", tracking=tracking)]))
                return
            self.effects.append(
                AppendToTicket(
                    tracking=tracking,
                    text=text,
                    attachments=tuple(message.attachments),
                    location=message.location,
                    message_id=message.provider_message_id or None,
                )
            )
            if self.emergency is not None:
                self.effects.append(FlagEmergency(tracking, self.emergency.kind))
            self.reply(self.t("ack.appended", tracking=tracking))
            return
        state.open_ticket = None
        self.start_draft(text, message)

    def can_append(self, tracking: str) -> bool:
        """Follow-ups go to the open ticket unless it was archived or the citizen was silent for long."""
        ticket = self.ctx.ticket(tracking)
        if ticket is not None and ticket.status == "archived":
            return False
        last = _parse_time(self.original.last_activity)
        window = timedelta(days=int(self.settings.get("append_window_days", 30)))
        return last is None or self.ctx.now - last <= window

    # ----------------------------------------------------------------- drafts

    def new_draft(self, message: InboundMessage) -> Draft:
        draft = Draft(started_at=self.ctx.now.isoformat())
        self.state.draft = draft
        self.state.stage = COLLECTING
        self.state.menu = []
        self.state.menu_page = 0
        self.take_media(draft, message)
        self.mark_emergency(draft)
        return draft

    def take_media(self, draft: Draft, message: InboundMessage) -> None:
        """Keep the message id, attachments and pin of any message in a draft."""
        if message.provider_message_id and message.provider_message_id not in draft.message_ids:
            draft.message_ids.append(message.provider_message_id)
        if message.attachments:
            draft.attachments.extend(message.attachments)
            kinds = {a.kind for a in message.attachments}
            self.notes.append(self.t("ack.photo" if kinds <= {"image"} else "ack.attachment"))
        if message.location is not None:
            draft.location = message.location
            label = message.location.address or message.location.name
            if label and not draft.location_text:
                draft.location_text = label
            if draft.edit_field == "location":
                draft.edit_field = None
            self.notes.append(self.t("ack.location"))

    def start_draft(self, text: str, message: InboundMessage, greeted: bool = False) -> None:
        draft = self.new_draft(message)
        if text.strip():
            self.add_description(draft, text)
        self.advance()
        if greeted and not self.notes and draft.is_empty():
            self.reply(self.t("welcome", city=self.config.city))
            return
        self.ask()

    def start_one_shot(self, body: str, message: InboundMessage) -> None:
        """``LAPOR#kategori#lokasi#isi`` (or ``#lokasi#isi``, ``#isi``) fills the draft at once."""
        draft = self.new_draft(message)
        draft.one_shot = True
        parts = [p.strip() for p in body.split("#")]
        category_text, location_text, description = "", "", ""
        if len(parts) >= 3:
            category_text, location_text, description = parts[0], parts[1], "#".join(parts[2:]).strip()
        elif len(parts) == 2:
            location_text, description = parts
        else:
            description = parts[0]
        if category_text:
            code = category_from_answer(self.config, category_text, self.lang)
            if code:
                draft.category = code
            else:
                draft.extras.append(category_text)  # an unknown category word is still the citizen's
        if location_text:
            draft.location_text = location_text
        if description:
            self.add_description(draft, description)
        self.advance()
        self.ask()

    def add_description(self, draft: Draft, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if draft.edit_field == "description":
            draft.description = text
            draft.edit_field = None
        else:
            draft.description = texts.join([draft.description.strip(), text], " ").strip()
        if not draft.has_location():
            found = extract_location(self.config, text)
            if found:
                draft.location_text = found

    def advance(self) -> None:
        """Move to the first thing still missing; the summary when nothing is."""
        state = self.state
        draft = state.draft
        if draft is None or state.stage == EDITING:
            return  # the edit menu is left only by choosing a field (or cancelling)
        previous = state.stage
        if draft.edit_field == "description" or len(draft.description.strip()) < self.min_description:
            state.stage = COLLECTING
        elif draft.edit_field == "location" or not draft.has_location():
            state.stage = AWAITING_LOCATION
        elif draft.edit_field == "category" or not draft.category:
            guess = None
            if draft.edit_field != "category":
                guess = infer_category(
                    self.config, without_location(draft.full_description(), draft.location_text)
                )
            if guess:
                draft.category = guess
                draft.category_inferred = True
                self.advance()
                return
            state.stage = AWAITING_CATEGORY
        elif draft.edit_field == "privacy" or (
            draft.privacy is None and self.settings.get("ask_privacy", True) and not draft.one_shot
        ):
            state.stage = AWAITING_PRIVACY
        else:
            if draft.privacy is None:
                draft.privacy = DEFAULT_PRIVACY
            state.stage = CONFIRMING
        if state.stage != previous:
            state.menu_page = 0
            state.retries = 0

    def ask(self) -> None:
        """Send the acknowledgements collected so far followed by the current question."""
        notes = texts.join(self.notes, " ")
        self.notes = []
        if notes:
            self.say_with_prompt(notes)
        else:
            prompt = self.prompt()
            if prompt is not None:
                self.emit(prompt)

    def on_draft_input(self, text: str, message: InboundMessage, payload: str | None) -> None:
        state = self.state
        draft = state.draft
        assert draft is not None
        self.take_media(draft, message)
        choice = payload or self.numbered_choice(text)
        if choice is not None:
            if self.apply_choice(choice):
                return
            text = ""  # the words were the choice (a number or a button's title)
        if text and self.on_stage_text(draft, text):
            return  # filed, cancelled, or a new question already asked
        self.advance()
        self.ask()

    def numbered_choice(self, text: str) -> str | None:
        match = re.fullmatch(r"\s*(\d{1,2})\s*[.)]?\s*", text)
        if not match or not self.state.menu:
            return None
        index = int(match.group(1)) - 1
        if 0 <= index < len(self.state.menu):
            return self.state.menu[index]
        return None

    def apply_choice(self, choice: str) -> bool:
        """Apply a menu choice; True when it fully handled the turn (filed, cancelled, asked)."""
        state = self.state
        draft = state.draft
        assert draft is not None
        kind, _, value = choice.partition(":")
        if choice == MORE:
            state.menu_page += 1
            return False
        if kind == "cat" and (self.config.category(value) or value == self.other_category()):
            draft.category = value
            draft.category_inferred = False
            if draft.edit_field == "category":
                draft.edit_field = None
            return False
        if kind == "privacy" and value in PRIVACY_CHOICES:
            draft.privacy = value
            draft.privacy_chosen = True
            if draft.edit_field == "privacy":
                draft.edit_field = None
            return False
        if kind == "edit" and value in EDIT_FIELDS:
            self.begin_edit(value)
            return True
        if kind == "confirm" and state.stage == CONFIRMING:
            if value == "yes":
                self.file_ticket()
                return True
            if value == "no":
                self.close_draft()
                self.reply(self.t("cancelled"))
                return True
            if value == "edit":
                self.show_edit_menu()
                return True
        self.notes.append(self.t("ack.stale_button"))
        return False

    def on_stage_text(self, draft: Draft, text: str) -> bool:
        """Read free text according to the question that was asked; True when it already answered."""
        stage = self.state.stage
        if stage == COLLECTING:
            self.add_description(draft, text)
        elif stage == AWAITING_LOCATION:
            draft.location_text = text.strip()
            if draft.edit_field == "location":
                draft.edit_field = None
        elif stage == AWAITING_CATEGORY:
            if self.means_other(text):
                code: str | None = self.other_category()  # "tidak tahu": a choice, not part of the complaint
            else:
                code = category_from_answer(self.config, text, self.lang)
                if code and not category_named(self.config, text):
                    draft.extras.append(text.strip())  # "sampah di depan rumah": more than a choice, keep it
            if code is None:
                draft.extras.append(text.strip())
                if not self.retry(self.t("ack.category_retry")):
                    code = self.other_category()  # asked twice: the coordinator sorts it out
                    self.notes.append(self.t("ack.category_other"))
            if code:
                draft.category = code
                draft.category_inferred = False
                if draft.edit_field == "category":
                    draft.edit_field = None
        elif stage == AWAITING_PRIVACY:
            privacy = self.privacy_from_text(text)
            if privacy is None:
                draft.extras.append(text.strip())
                already = draft.privacy is not None  # set this turn: an emergency is filed RAHASIA
                if not already and not self.retry(self.t("ack.not_understood")):
                    privacy = DEFAULT_PRIVACY  # asked twice: the safe choice, shown in the summary
                    self.notes.append(self.t("ack.privacy_default"))
            if privacy:
                draft.privacy = privacy
                draft.privacy_chosen = self.chose_privacy(text)
                if draft.edit_field == "privacy":
                    draft.edit_field = None
        elif stage == CONFIRMING:
            return self.on_confirm_text(draft, text)
        elif stage == EDITING:
            fields_table = {k: list(v) for k, v in (self.settings.get("fields") or {}).items()}
            field_name = self.keywords.lookup_word(text, fields_table)
            if field_name in EDIT_FIELDS:
                self.begin_edit(field_name)
                return True
            draft.extras.append(text.strip())
            if not self.retry(self.t("ack.not_understood")):
                self.state.stage = CONFIRMING  # asked twice: back to the summary, nothing changed
        return False

    def retry(self, note: str) -> bool:
        """Ask the current question once more after an answer we could not place.

        True when the retry was asked; False when it already was, and the caller must
        move on with a default: a menu never loops on "jawaban tidak dikenali".
        """
        if self.state.retries >= 1:
            self.state.retries = 0
            return False
        self.state.retries += 1
        self.notes.append(note)
        return True

    def other_category(self) -> str:
        """The category of a complaint the citizen cannot place (config: other_category)."""
        return str(self.settings.get("other_category") or "lainnya")

    def means_other(self, text: str) -> bool:
        """The answer says "other" or "I do not know" ("yang lain", "tidak tahu")."""
        words = [str(w) for w in self.settings.get("other_category_words") or ()]
        return self.keywords.lookup_word(text, {"other": words}) == "other"

    def chose_privacy(self, text: str) -> bool:
        """Whether ``text`` names a privacy level itself: LEWATI (skip) and an answer that is
        none of them leave the choice to the default, which is not the citizen's choice."""
        return not self.keywords.is_keyword(text, "skip") and self.privacy_from_text(text) is not None

    def privacy_from_text(self, text: str) -> str | None:
        if self.keywords.is_keyword(text, "skip"):
            return DEFAULT_PRIVACY
        table = {k: list(v) for k, v in (self.settings.get("privacy_words") or {}).items()}
        found = self.keywords.lookup_word(text, table)
        return found if found in PRIVACY_CHOICES else None

    def on_confirm_text(self, draft: Draft, text: str) -> bool:
        if self.keywords.is_keyword(text, "yes"):
            self.file_ticket()
            return True
        if self.keywords.is_keyword(text, "no"):
            self.close_draft()
            self.reply(self.t("cancelled"))
            return True
        if self.keywords.is_keyword(text, "edit"):
            self.show_edit_menu()
            return True
        first, _, rest = split_first_word(text)
        if rest and self.keywords.matches(first, self.keywords.words("edit")):
            fields_table = {k: list(v) for k, v in (self.settings.get("fields") or {}).items()}
            field_name = self.keywords.lookup_word(rest, fields_table)
            if field_name in EDIT_FIELDS:
                self.begin_edit(field_name)
                return True
        draft.extras.append(text.strip())
        self.notes.append(self.t("ack.noted"))
        return False

    def show_edit_menu(self) -> None:
        self.state.stage = EDITING
        self.state.menu_page = 0
        self.state.retries = 0
        self.ask()

    def begin_edit(self, field_name: str) -> None:
        draft = self.state.draft
        assert draft is not None
        draft.edit_field = field_name
        if field_name == "location":
            draft.location_text = ""
            draft.location = None
        elif field_name == "category":
            draft.category = None
            draft.category_inferred = False
        elif field_name == "privacy":
            draft.privacy = None
            draft.privacy_chosen = False
        self.state.stage = CONFIRMING  # leave the edit menu; advance() finds the field to ask
        self.advance()
        self.ask()

    def file_ticket(self) -> None:
        state = self.state
        draft = state.draft
        assert draft is not None
        tracking = self.ctx.new_tracking
        if not tracking:
            raise ValueError("the context reserves the tracking number a filed ticket gets")
        days = self.config.deadlines(draft.category)
        self.effects.append(
            CreateTicket(
                tracking=tracking,
                description=draft.full_description(),
                location_text=draft.location_text,
                location=draft.location,
                category=draft.category,
                privacy=draft.privacy or DEFAULT_PRIVACY,
                attachments=tuple(draft.attachments),
                language=self.lang,
                message_ids=tuple(draft.message_ids),
                deadlines=days,
                privacy_chosen=draft.privacy_chosen and draft.privacy is not None,
            )
        )
        kind = state.emergency or (self.emergency.kind if self.emergency else None)
        if kind:
            self.effects.append(FlagEmergency(tracking, kind))
        state.open_ticket = tracking
        self.close_draft()
        follow_up = days.get("follow_up", 5)
        if self.ctx.dispatch_to:  # no verification to promise: say where it went instead
            self.reply(
                self.t(
                    "filed_dispatched", tracking=tracking, agency=self.ctx.dispatch_to, follow_up=follow_up
                )
            )
            return
        # A web citizen who left no number reads this on the form's page and cannot reply to it.
        key = "filed_web" if is_page_address(self.sender) else "filed"
        self.reply(self.t(key, tracking=tracking, verify=days.get("verify", 3), follow_up=follow_up))

    # ----------------------------------------------------------------- questions

    def prompt(self) -> Reply | None:
        """The question for the current stage, with its menu; sets ``state.menu``."""
        state = self.state
        draft = state.draft
        state.menu = []
        if draft is None or state.stage not in DRAFT_STAGES:
            return None
        stage = state.stage
        if stage == COLLECTING:
            if draft.description.strip() and draft.edit_field != "description":
                return Reply(self.t("ask.description_more", min=self.min_description))
            return Reply(self.t("ask.description"))
        if stage == AWAITING_LOCATION:
            return Reply(self.t("ask.location"))
        if stage == AWAITING_CATEGORY:
            other = self.other_category()
            options = [
                _Option(
                    payload=f"cat:{c.code}",
                    title=c.name(self.lang),
                    short=str(
                        texts.raw(self.config, f"category_short.{c.code}", self.lang) or c.name(self.lang)
                    ),
                )
                for c in self.config.categories
                if c.code != other
            ]
            # "Lainnya / tidak tahu" on every page: a citizen who cannot place the complaint
            # always has an answer that files it, whatever the channel shows.
            label = self.t("menu.category_other")
            pinned = _Option(payload=f"cat:{other}", title=label, short=label)
            return self.menu(self.t("ask.category"), options, self.t("menu.category_title"), pinned)
        if stage == AWAITING_PRIVACY:
            options = [
                _Option(
                    payload=f"privacy:{p}",
                    title=self.t(f"privacy.{p}.label"),
                    short=self.t(f"privacy.{p}.label"),
                    description=self.t(f"privacy.{p}.help"),
                )
                for p in PRIVACY_CHOICES
            ]
            return self.menu(self.t("ask.privacy"), options, self.t("menu.privacy_title"))
        if stage == EDITING:
            options = [
                _Option(
                    payload=f"edit:{f}", title=self.t(f"edit_fields.{f}"), short=self.t(f"edit_fields.{f}")
                )
                for f in EDIT_FIELDS
            ]
            return self.menu(self.t("ask.edit"), options, self.t("menu.edit_title"))
        return self.summary(draft)

    def summary(self, draft: Draft) -> Reply:
        category = self.config.category(draft.category)
        location = draft.location_text or ""
        if draft.location is not None and not location:
            location = self.t("confirm.pin")
        photos = self.t("confirm.photos", count=len(draft.attachments)) if draft.attachments else ""
        privacy = self.t(f"privacy.{draft.privacy or DEFAULT_PRIVACY}.label")
        # Small channels (one SMS segment) get the compact summary, so the citizen's words keep room.
        summary_key, prompt_key = "confirm.summary", "confirm.prompt"
        fixed = len(self.t(summary_key, description="", location="", category="", privacy="", photos=""))
        if self.max_len - fixed - len(self.t(prompt_key)) < 100 and texts.has(
            self.config, "confirm.summary_short", self.lang
        ):
            summary_key, prompt_key = "confirm.summary_short", "confirm.prompt_short"
        prompt = self.t(prompt_key)
        buttons: tuple[Button, ...] = ()
        if self.ctx.menu_style in ("keyboard", "list"):
            buttons = (
                Button("confirm:yes", self.button_title(self.t("confirm.button_yes"))),
                Button("confirm:no", self.button_title(self.t("confirm.button_no"))),
                Button("confirm:edit", self.button_title(self.t("confirm.button_edit"))),
            )
        body = texts.fit(
            self.config,
            summary_key,
            self.lang,
            self.max_len - len(prompt) - 1,
            shrink=("description", "location"),
            description=draft.full_description(),
            location=location,
            category=category.name(self.lang) if category else "-",
            privacy=privacy,
            photos=photos,
        )
        return Reply(texts.join([body, prompt]), buttons)

    def button_title(self, title: str) -> str:
        return texts.truncate(title, int(self.settings.get("button_title_max", 24)))

    def menu(
        self, question: str, options: list[_Option], menu_title: str, pinned: _Option | None = None
    ) -> Reply:
        """A menu in the channel's style, paged when it does not fit; sets ``state.menu``.

        ``pinned`` is shown on every page, after the options and before "more".
        """
        style = self.ctx.menu_style if self.ctx.menu_style in ("numbered", "keyboard", "list") else "numbered"
        limits = self.settings.get("max_buttons") or {}
        per_page = max(3, int(limits.get(style, 10)))
        more = _Option(MORE, self.t("menu.more"), self.t("menu.more"))
        tail = [pinned] if pinned is not None else []
        if style == "numbered":
            return self.numbered_menu(question, options, more, tail)
        pages = _chunk(options, per_page - len(tail))
        page = pages[self.state.menu_page % len(pages)]
        self.state.menu_page %= len(pages)
        shown = [*page, *tail, more] if len(pages) > 1 else [*page, *tail]
        self.state.menu = [o.payload for o in shown]
        text = question
        if style == "keyboard" and any(o.description for o in shown):
            detailed = texts.join(
                [question, *(f"{o.title}: {o.description}" for o in shown if o.description)]
            )
            if len(detailed) <= self.max_len:
                text = detailed
        buttons = tuple(
            Button(
                o.payload,
                self.button_title(
                    o.title if len(o.title) <= self.settings.get("button_title_max", 24) else o.short
                ),
                o.description if style == "list" else None,
            )
            for o in shown
        )
        return Reply(text, buttons, menu_title if style == "list" else None)

    def numbered_menu(
        self, question: str, options: list[_Option], more: _Option, tail: list[_Option]
    ) -> Reply:
        hint = self.t("ask.reply_number")

        def render(items: list[_Option], variant: str) -> str:
            lines = []
            for number, option in enumerate(items, start=1):
                if variant == "full":
                    label = f"{option.title}: {option.description}" if option.description else option.title
                else:
                    label = option.short
                lines.append(f"{number} {label}")
            return texts.join([question, *lines, hint])

        for variant in ("full", "short"):
            text = render([*options, *tail], variant)
            if len(text) <= self.max_len:
                self.state.menu = [o.payload for o in [*options, *tail]]
                self.state.menu_page = 0
                return Reply(text)
        pages: list[list[_Option]] = []
        current: list[_Option] = []
        for option in options:
            if current and len(render([*current, option, *tail, more], "short")) > self.max_len:
                pages.append(current)
                current = []
            current.append(option)
        if current:
            pages.append(current)
        self.state.menu_page %= len(pages)
        page = pages[self.state.menu_page]
        shown = [*page, *tail, more] if len(pages) > 1 else [*page, *tail]
        self.state.menu = [o.payload for o in shown]
        return Reply(texts.truncate(render(shown, "short"), self.max_len))


def _chunk(options: list[_Option], per_page: int) -> list[list[_Option]]:
    if len(options) <= per_page:
        return [options]
    size = per_page - 1  # room for the "more" entry
    return [options[i : i + size] for i in range(0, len(options), size)]


def _message_text(message: InboundMessage) -> str:
    """The words of a message: its text, else its command, else the captions of its media."""
    text = (message.text or "").strip()
    if not text and message.command:
        text = f"{message.command} {message.command_args or ''}".strip()
    if not text:
        text = " ".join(a.caption.strip() for a in message.attachments if a.caption and a.caption.strip())
    return text


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
